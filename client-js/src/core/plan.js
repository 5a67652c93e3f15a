/**
 * Query indexes and query plans, pure: which IndexedDB indexes a declaration asks for, the derived
 * keys a stored record carries for them, and which index and key ranges answer a query.
 *
 * A declared index of collection `c` on fields `[f1, f2]` is the index `q:c:f1,f2` of the `docs`
 * store with key path `['c', 'k.f1', 'k.f2', 'id']`: `k` holds the encoded value of every indexed
 * field of the record's document (`core/query.js`, `encode`), so null, booleans and missing fields
 * are indexed too, and every live document of `c` is in every index of `c`. Tombstones carry no
 * `k` and are in none. The trailing `id` makes every index key unique, so a page cursor
 * (`startAfter`) is one key and results with equal fields come in id order.
 */
import { FIELD, TOP, encode, field, cmpKey, constraints, comparator } from './query.js'

/** @typedef {import('./query.js').Key} Key */
/** @typedef {import('./query.js').Order} Order */
/** @typedef {import('./query.js').Constraint} Constraint */
/**
 * @typedef {object} IndexDef one declared index
 * @property {string} name IndexedDB index name
 * @property {string[]} fields
 * @property {string[]} keyPath
 */
/** @typedef {{lo: Key[], hi: Key[], hiOpen: boolean}} Range a key range of one index (the low bound closed) */
/**
 * @typedef {object} Plan
 * @property {IndexDef | null} index null: scan the collection
 * @property {Range[]} ranges key ranges of `index`, read one after the other
 * @property {'next' | 'prev'} dir
 * @property {boolean} ordered each range yields its documents in the query's order (the results of
 *   one range may stop at `limit`; several ranges are merged)
 * @property {boolean} exact every document in the ranges matches (a count may use `IDBIndex.count`)
 * @property {string[]} prefix the equality fields the index narrows by (for `explain()`)
 */

/** At most this many key ranges (the product of `in` lists) per query; beyond, fewer index fields are used. */
export const MAX_RANGES = 64

/**
 * Check and name the indexes declared per collection.
 * @param {{[coll: string]: readonly (string | readonly string[])[]}} spec e.g. `{todos: ['team', ['team', 'done']]}`
 * @returns {Map<string, IndexDef[]>} by collection
 */
export function indexDefs(spec) {
  /** @type {Map<string, IndexDef[]>} */
  const out = new Map()
  for (const [c, list] of Object.entries(spec || {})) {
    if (!Array.isArray(list)) throw new TypeError(`indexes.${c}: a list of fields or field lists expected`)
    /** @type {IndexDef[]} */
    const defs = []
    for (const item of list) {
      const fields = typeof item === 'string' ? [item] : [...item]
      if (!fields.length || !fields.every((f) => typeof f === 'string' && FIELD.test(f)) || new Set(fields).size < fields.length) {
        throw new TypeError(`indexes.${c}: bad index ${JSON.stringify(item)} (field names: identifiers, dot-separated for nested fields)`)
      }
      const name = `q:${c}:${fields.join(',')}`
      if (!defs.some((d) => d.name === name)) defs.push({ name, fields, keyPath: ['c', ...fields.map((f) => 'k.' + f), 'id'] })
    }
    const all = defs.flatMap((d) => d.fields)
    const clash = all.find((f) => all.some((g) => g.startsWith(f + '.')))
    if (clash) throw new TypeError(`indexes.${c}: ${clash} and a field inside it cannot both be indexed`)
    out.set(c, defs)
  }
  return out
}

/**
 * The derived keys of a document for the indexes of its collection (the record's `k`).
 * @param {object} doc
 * @param {IndexDef[]} defs
 * @returns {object}
 */
export function derivedKeys(doc, defs) {
  /** @type {any} */
  const k = {}
  for (const d of defs) {
    for (const f of d.fields) {
      const path = f.split('.')
      let o = k
      for (const p of path.slice(0, -1)) o = o[p] ||= {}
      o[path[path.length - 1]] = encode(field(doc, f))
    }
  }
  return k
}

/**
 * Choose the index and key ranges for a query: the index whose leading fields the query fixes
 * (`==`, `in`) the most, then a range on the next field; ties go to the index that yields the
 * query's order, then to the shorter one. Without an index that narrows or orders, a scan.
 * @param {string} coll
 * @param {Map<string, Constraint>} cons
 * @param {Order[]} order
 * @param {IndexDef[]} defs
 * @returns {Plan}
 */
export function plan(coll, cons, order, defs) {
  /** @type {Plan} */
  let best = { index: null, ranges: [], dir: 'next', ordered: false, exact: false, prefix: [] }
  let bestScore = 0
  // ties in the query's order go by id in the direction of the last `orderBy` (`comparator`)
  const last = order.length ? order[order.length - 1].dir : 'asc'
  for (const d of defs) {
    const f = d.fields
    let p = 0
    let n = 1
    while (p < f.length && cons.get(f[p])?.in && n * /** @type {Key[]} */ (cons.get(f[p])?.in).length <= MAX_RANGES) {
      n *= /** @type {Key[]} */ (cons.get(f[p])?.in).length
      p++
    }
    const rc = p < f.length && cons.get(f[p])
    const range = rc && !rc.in ? rc : null
    const used = f.slice(0, p + (range ? 1 : 0))
    // the order of each range: the fields after the fixed ones, then id (all ascending, or all
    // descending read backwards); fields the range fixes do not order anything
    const want = order.filter((o) => !f.slice(0, p).includes(o.field))
    const rest = f.slice(p)
    const ordered = want.length === rest.length && want.every((o, i) => o.field === rest[i] && o.dir === last)
    const score = used.length * 4 + (ordered ? 2 : 0) - f.length / 100
    if (!(used.length || ordered) || score <= bestScore) continue
    bestScore = score
    best = {
      index: d,
      ranges: ranges(coll, f.slice(0, p).map((x) => /** @type {Key[]} */ (cons.get(x)?.in)), range),
      dir: last === 'desc' ? 'prev' : 'next',
      ordered,
      exact: [...cons.keys()].every((x) => used.includes(x)),
      prefix: f.slice(0, p),
    }
  }
  return best
}

/**
 * The key ranges for fixed leading fields (each one of its keys) and a range on the next field.
 * All bounds are closed but `hiOpen` of cursors: no stored key equals a bound built here, as
 * stored keys are longer (they end with the id).
 * @param {string} coll
 * @param {Key[][]} fixed
 * @param {Constraint | null} range
 * @returns {Range[]}
 */
function ranges(coll, fixed, range) {
  /** @type {Key[][]} */
  let heads = [[coll]]
  for (const keys of fixed) heads = heads.flatMap((h) => keys.map((k) => [...h, k]))
  /** @type {Range[]} */
  const out = []
  for (const h of heads) {
    const lo = range ? (range.loOpen ? [...h, range.lo, TOP] : [...h, range.lo]) : h
    const hi = range ? (range.hiOpen ? [...h, range.hi] : [...h, range.hi, TOP]) : [...h, TOP]
    if (cmpKey(lo, hi) < 0) out.push({ lo, hi, hiOpen: false })
  }
  return out
}

/**
 * Narrow an ordered plan's ranges to the keys after a cursor document (`startAfter`). A range
 * whose fixed fields differ from the cursor's is kept whole when those fields order the results
 * (it lies wholly before or after the cursor: the documents read are filtered anyway).
 * @param {Plan} p
 * @param {Order[]} order
 * @param {object} after the cursor document (its index fields and id)
 * @returns {Range[]}
 */
export function rangesAfter(p, order, after) {
  const d = /** @type {IndexDef} */ (p.index)
  const head = p.prefix.map((f) => encode(field(after, f)))
  const tail = d.fields.slice(p.prefix.length).map((f) => encode(field(after, f)))
  const id = String(field(after, 'id'))
  const fixedOrders = order.some((o) => p.prefix.includes(o.field))
  /** @type {Range[]} */
  const out = []
  for (const r of p.ranges) {
    const own = r.lo.slice(1, 1 + p.prefix.length)
    if (fixedOrders && cmpKey(own, head) !== 0) {
      out.push(r)
      continue
    }
    const key = [r.lo[0], ...own, ...tail, id]
    if (p.dir === 'next') {
      const lo = [...key, TOP]
      if (cmpKey(lo, r.lo) <= 0) out.push(r)
      else if (cmpKey(lo, r.hi) < 0) out.push({ ...r, lo })
    } else if (cmpKey(key, r.hi) >= 0) out.push(r)
    else if (cmpKey(key, r.lo) > 0) out.push({ ...r, hi: key, hiOpen: true })
  }
  return out
}

/**
 * @typedef {object} Spec what a query asks (`Query` of `synchub-client/query` holds one)
 * @property {string} coll
 * @property {import('./query.js').Where[]} where
 * @property {Order[]} order
 * @property {number | null} limit
 * @property {object | null} after `startAfter` document
 */
/**
 * @typedef {object} Prepared a query ready to run: its constraints, plan and order
 * @property {Spec} spec
 * @property {Map<string, Constraint>} cons
 * @property {Plan} plan
 * @property {(a: object, b: object) => number} cmp
 */

/**
 * @param {Spec} spec
 * @param {IndexDef[]} defs the indexes of `spec.coll`
 * @returns {Prepared}
 */
export function prepare(spec, defs) {
  const cons = constraints(spec.where)
  return { spec, cons, plan: plan(spec.coll, cons, spec.order, defs), cmp: comparator(spec.order) }
}

/**
 * The index key of a stored record in `def` (as its key path gives it).
 * @param {{c: string, id: string, k?: any}} rec
 * @param {IndexDef} def
 * @returns {Key[]}
 */
export const indexKey = (rec, def) => [rec.c, ...def.fields.map((f) => field(rec.k, f)), rec.id]

/**
 * Local queries, the pure part: the index keys of field values, their order, `where` clauses
 * folded into one constraint per field, matching and sorting documents. No IndexedDB here: the
 * same rules decide what an index range returns (`core/plan.js`) and what a document in memory
 * matches, so a query answers the same from an index, from a scan and in a live query.
 *
 * Values and their order (the order of IndexedDB keys, extended):
 *   numbers < dates < strings < null < false < true < missing
 * IndexedDB cannot index null, booleans or objects, so those are stored as one-element arrays
 * (arrays sort after every other key). "Missing" covers an absent field and values no query
 * compares (objects, arrays, NaN, invalid dates): it sorts last and no `where` matches it. bigint
 * is compared as a number (exact up to 2^53).
 */

/** @typedef {number | string | Date | unknown[]} Key an IndexedDB key */
/** @typedef {'==' | '<' | '<=' | '>' | '>=' | 'in'} WhereOp */
/** @typedef {{field: string, op: WhereOp, value: unknown}} Where */
/** @typedef {{field: string, dir: 'asc' | 'desc'}} Order */
/**
 * @typedef {object} Constraint what a field must be, all of its `where` clauses together
 * @property {Key[] | null} in one of these keys (ascending, no duplicates); null: a range
 * @property {Key} lo
 * @property {boolean} loOpen
 * @property {Key} hi
 * @property {boolean} hiOpen
 */

export const NULL = [0]
export const FALSE = [1]
export const TRUE = [2]
export const MISSING = [3]
/** Above every key a field can have (an array holding an array sorts above arrays of scalars). */
export const TOP = [[]]

const DAY0 = new Date(-8.64e15)
const DAY1 = new Date(8.64e15)

/**
 * The key a field value is indexed and compared by.
 * @param {unknown} v
 * @returns {Key}
 */
export function encode(v) {
  switch (typeof v) {
    case 'number':
      return Number.isNaN(v) ? MISSING : v
    case 'string':
      return v
    case 'boolean':
      return v ? TRUE : FALSE
    case 'bigint':
      return Number(v)
    case 'object':
      if (v === null) return NULL
      if (v instanceof Date && !Number.isNaN(+v)) return v
  }
  return MISSING
}

/** @param {Key} k */
const rank = (k) => (typeof k === 'number' ? 0 : k instanceof Date ? 1 : typeof k === 'string' ? 2 : Array.isArray(k) ? 4 : 3)

/**
 * Compare two keys as IndexedDB does (`indexedDB.cmp`): by type, then by value; strings by
 * UTF-16 code units, arrays element by element.
 * @param {Key} a
 * @param {Key} b
 * @returns {number} negative, 0 or positive
 */
export function cmpKey(a, b) {
  const ra = rank(a)
  const d = ra - rank(b)
  if (d) return d
  if (ra === 4) {
    const x = /** @type {Key[]} */ (a)
    const y = /** @type {Key[]} */ (b)
    for (let i = 0; i < x.length && i < y.length; i++) {
      const c = cmpKey(x[i], y[i])
      if (c) return c
    }
    return x.length - y.length
  }
  const x = ra === 1 ? +a : a
  const y = ra === 1 ? +b : b
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * A field's value; `path` may name a nested field (`author.name`).
 * @param {unknown} doc
 * @param {string} path
 */
export function field(doc, path) {
  let v = /** @type {any} */ (doc)
  for (const p of path.split('.')) v = v == null ? undefined : v[p]
  return v
}

/** Field paths a query or an index may name: identifiers joined by dots (they are IndexedDB key paths). */
export const FIELD = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/

const OPS = ['==', '<', '<=', '>', '>=', 'in']

/**
 * The keys of the type of `k`: a range `where` compares within one type, as Firestore does
 * (`n > 5` matches no string).
 * @param {Key} k
 * @returns {[Key, Key, boolean]} low, high, high open
 */
function typeRange(k) {
  const r = rank(k)
  if (r === 0) return [-Infinity, Infinity, false]
  if (r === 1) return [DAY0, DAY1, false]
  if (r === 2) return ['', NULL, true]
  return k === NULL ? [NULL, NULL, false] : [FALSE, TRUE, false]
}

/**
 * @param {string} what
 * @param {unknown} v
 */
function operand(what, v) {
  const k = encode(v)
  if (k === MISSING) throw new TypeError(`${what}: a number, string, boolean, null or Date expected`)
  return k
}

/**
 * Check a `where` clause; the thrown TypeError names what is wrong.
 * @param {Where} w
 * @returns {Where}
 */
export function checkWhere(w) {
  if (typeof w.field !== 'string' || !FIELD.test(w.field)) throw new TypeError(`where: bad field ${JSON.stringify(w.field)}`)
  if (!OPS.includes(w.op)) throw new TypeError(`where: unknown operator ${JSON.stringify(w.op)}`)
  if (w.op === 'in') {
    if (!Array.isArray(w.value)) throw new TypeError('where in: an array expected')
    w.value.forEach((v) => operand('where in', v))
  } else operand('where ' + w.op, w.value)
  return w
}

/**
 * Fold `where` clauses into one constraint per field. Contradictory clauses give a field no
 * key at all (`in: []`): the query matches nothing.
 * @param {Where[]} where
 * @returns {Map<string, Constraint>}
 */
export function constraints(where) {
  /** @type {Map<string, Constraint>} */
  const out = new Map()
  for (const w of where) {
    /** @type {Constraint} */
    let c
    if (w.op === '==' || w.op === 'in') {
      const keys = (w.op === 'in' ? /** @type {unknown[]} */ (w.value) : [w.value]).map(encode)
      c = { in: uniq(keys), lo: -Infinity, loOpen: false, hi: TOP, hiOpen: false }
    } else {
      const k = encode(w.value)
      const [lo, hi, hiOpen] = typeRange(k)
      c = w.op[0] === '>' ? { in: null, lo: k, loOpen: w.op === '>', hi, hiOpen } : { in: null, lo, loOpen: false, hi: k, hiOpen: w.op === '<' }
    }
    const held = out.get(w.field)
    out.set(w.field, held ? intersect(held, c) : c)
  }
  return out
}

/** @param {Key[]} keys */
function uniq(keys) {
  keys.sort(cmpKey)
  return keys.filter((k, i) => i === 0 || cmpKey(keys[i - 1], k) !== 0)
}

/**
 * @param {Constraint} a
 * @param {Constraint} b
 * @returns {Constraint}
 */
function intersect(a, b) {
  if (a.in && b.in) return { ...a, in: a.in.filter((k) => b.in?.some((x) => cmpKey(x, k) === 0)) }
  if (a.in || b.in) {
    const [set, range] = a.in ? [a, b] : [b, a]
    return { ...set, in: /** @type {Key[]} */ (set.in).filter((k) => inRange(k, range)) }
  }
  const lc = cmpKey(a.lo, b.lo)
  const hc = cmpKey(a.hi, b.hi)
  return {
    in: null,
    lo: lc >= 0 ? a.lo : b.lo,
    loOpen: lc > 0 ? a.loOpen : lc < 0 ? b.loOpen : a.loOpen || b.loOpen,
    hi: hc <= 0 ? a.hi : b.hi,
    hiOpen: hc < 0 ? a.hiOpen : hc > 0 ? b.hiOpen : a.hiOpen || b.hiOpen,
  }
}

/**
 * @param {Key} k
 * @param {Constraint} c
 */
function inRange(k, c) {
  const l = cmpKey(k, c.lo)
  const h = cmpKey(k, c.hi)
  return (c.loOpen ? l > 0 : l >= 0) && (c.hiOpen ? h < 0 : h <= 0)
}

/**
 * Does a key satisfy a constraint.
 * @param {Key} k
 * @param {Constraint} c
 */
export function satisfies(k, c) {
  if (k === MISSING) return false
  return c.in ? c.in.some((x) => cmpKey(x, k) === 0) : inRange(k, c)
}

/**
 * Does a document match every constraint (tombstones, `null`, match nothing).
 * @param {object | null | undefined} doc
 * @param {Map<string, Constraint>} cons
 */
export function matches(doc, cons) {
  if (!doc) return false
  for (const [f, c] of cons) if (!satisfies(encode(field(doc, f)), c)) return false
  return true
}

/**
 * The order of a query's results: its `orderBy` fields, then the document id, ascending or, when
 * the last `orderBy` is descending, descending (so an index read backwards gives the same order).
 * @param {Order[]} order
 * @returns {(a: object, b: object) => number}
 */
export function comparator(order) {
  const idDir = order.length && order[order.length - 1].dir === 'desc' ? -1 : 1
  return (a, b) => {
    for (const o of order) {
      const c = cmpKey(encode(field(a, o.field)), encode(field(b, o.field)))
      if (c) return o.dir === 'desc' ? -c : c
    }
    const x = String(field(a, 'id'))
    const y = String(field(b, 'id'))
    return x < y ? -idDir : x > y ? idDir : 0
  }
}

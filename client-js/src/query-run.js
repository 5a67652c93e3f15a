/**
 * Running a prepared query (`core/plan.js`) against the client database: the planned key ranges
 * of one index, or a scan of the collection. Every document read is checked against the query
 * again, so a record whose derived keys are stale (written by code that declared other indexes)
 * is never returned wrongly.
 */
import { req } from './store.js'
import { DOCS, collBounds } from './core/keys.js'
import { matches, TOP } from './core/query.js'
import { rangesAfter, indexKey } from './core/plan.js'

/** @typedef {import('./core/plan.js').Prepared} Prepared */
/** @typedef {import('./core/plan.js').Range} Range */
/** @typedef {import('./core/plan.js').IndexDef} IndexDef */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */

/** Records read per `getAll` while filling a limited page. */
const BATCH = 64

/**
 * The records of the documents a query returns, in its order.
 * @param {IDBDatabase} db
 * @param {Prepared} q
 * @returns {Promise<DocRecord[]>}
 */
export async function readQuery(db, q) {
  const { spec, plan: p, cons, cmp } = q
  const after = spec.after
  /** @param {DocRecord} rec */
  const keep = (rec) => matches(rec.doc, cons) && (!after || cmp(/** @type {object} */ (rec.doc), after) > 0)
  const store = db.transaction(DOCS, 'readonly').objectStore(DOCS)
  /** @type {DocRecord[]} */
  let out = []
  if (!p.index) {
    out = /** @type {DocRecord[]} */ (await req(store.getAll(IDBKeyRange.bound(...collBounds(spec.coll)))))
    out = out.filter(keep)
  } else {
    const index = store.index(p.index.name)
    const def = p.index
    const ranges = after && p.ordered ? rangesAfter(p, spec.order, after) : p.ranges
    const limit = p.ordered ? spec.limit : null
    const parts = await Promise.all(ranges.map((r) => readRange(index, def, r, p.dir, limit, keep)))
    out = parts.flat()
  }
  if (!p.ordered || p.ranges.length !== 1 || !p.index) out.sort((a, b) => cmp(/** @type {object} */ (a.doc), /** @type {object} */ (b.doc)))
  return spec.limit == null ? out : out.slice(0, spec.limit)
}

/**
 * The kept records of one key range, in index order (`dir`); at most `limit` of them.
 * @param {IDBIndex} index
 * @param {IndexDef} def
 * @param {Range} r
 * @param {'next' | 'prev'} dir
 * @param {number | null} limit
 * @param {(rec: DocRecord) => boolean} keep
 * @returns {Promise<DocRecord[]>}
 */
async function readRange(index, def, r, dir, limit, keep) {
  /** @type {DocRecord[]} */
  const out = []
  if (limit == null) {
    const all = /** @type {DocRecord[]} */ (await req(index.getAll(IDBKeyRange.bound(r.lo, r.hi, false, r.hiOpen))))
    const kept = all.filter(keep)
    return dir === 'prev' ? kept.reverse() : kept
  }
  if (limit <= 0) return out
  if (dir === 'next') {
    // pages of `getAll` (faster than a cursor), each starting after the last key read
    let lo = r.lo
    for (;;) {
      const want = Math.min(BATCH, limit - out.length + 1)
      const got = /** @type {DocRecord[]} */ (await req(index.getAll(IDBKeyRange.bound(lo, r.hi, false, r.hiOpen), want)))
      for (const rec of got) if (keep(rec) && out.push(rec) >= limit) return out
      if (got.length < want) return out
      lo = [...indexKey(/** @type {any} */ (got[got.length - 1]), def), TOP]
    }
  }
  const cur = index.openCursor(IDBKeyRange.bound(r.lo, r.hi, false, r.hiOpen), 'prev')
  return new Promise((resolve, reject) => {
    cur.onerror = () => reject(cur.error)
    cur.onsuccess = () => {
      const at = cur.result
      if (!at) return resolve(out)
      if (keep(at.value) && out.push(at.value) >= limit) return resolve(out)
      at.continue()
    }
  })
}

/**
 * How many documents a query returns (`limit` and `startAfter` included). From `IDBIndex.count`
 * when the ranges hold exactly the matching documents.
 * @param {IDBDatabase} db
 * @param {Prepared} q
 * @returns {Promise<number>}
 */
export async function countQuery(db, q) {
  const { spec, plan: p } = q
  if (!p.index || !p.exact || spec.after) return (await readQuery(db, q)).length
  const index = db.transaction(DOCS, 'readonly').objectStore(DOCS).index(p.index.name)
  const counts = await Promise.all(p.ranges.map((r) => req(index.count(IDBKeyRange.bound(r.lo, r.hi, false, r.hiOpen)))))
  const n = counts.reduce((a, b) => a + b, 0)
  return spec.limit == null ? n : Math.min(n, spec.limit)
}

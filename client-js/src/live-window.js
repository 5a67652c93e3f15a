/**
 * The result of a live query kept in memory and patched with the changed documents, pure (no
 * IndexedDB): `live-query.js` reads the records and decides when to read the whole result again.
 *
 * The window holds exactly the matching documents that sort at or before `bound`, in the query's
 * order (`bound` null: all matching documents). A limited query reads `limit + SPARE` documents,
 * so a few may leave before the window is too short to answer; the unread ones all sort after
 * `bound`, so a changed document is placed when it sorts at or before it, and dropped otherwise.
 * `patch` says when the window can no longer be exact (fewer than `limit` known documents while
 * more may exist): the caller reads the whole result again (`reset`).
 */
import { matches } from './core/query.js'
import { sameDoc } from './core/records.js'

/** @typedef {import('./core/plan.js').Prepared} Prepared */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */

/** Documents read beyond a limit, as a margin for documents leaving the window. */
const SPARE = 16

export class Window {
  /** @type {object[]} the window, in order (never changed in place: a patch makes a new array) */
  docs = []
  /** @type {Map<string, object>} id -> document of the window */
  held = new Map()
  /** @type {Set<string>} ids of the window with pending writes */
  pend = new Set()
  /** @type {object | null} the last document read, when unread matching ones may follow it */
  bound = null

  /** @param {Prepared} q @param {number} [spare] documents read beyond a limit */
  constructor(q, spare = SPARE) {
    this.q = q
    const l = q.spec.limit
    /** how many documents `reset` expects (null: all) */
    this.size = l == null ? null : l + spare
  }

  /**
   * Does a document (null: deleted) belong in the window.
   * @param {object | null | undefined} doc
   */
  keeps(doc) {
    const { cons, cmp, spec } = this.q
    return matches(doc, cons) && (!spec.after || cmp(/** @type {object} */ (doc), spec.after) > 0) && (!this.bound || cmp(/** @type {object} */ (doc), this.bound) <= 0)
  }

  /**
   * The window from a fresh read (at most `size` records, in order). Documents equal to the ones
   * held keep their object.
   * @param {DocRecord[]} recs
   */
  reset(recs) {
    const held = this.held
    this.held = new Map()
    this.pend = new Set()
    this.docs = recs.map((r) => {
      const old = held.get(r.id)
      const d = old && sameDoc(old, r.doc) ? old : /** @type {object} */ (r.doc)
      this.held.set(r.id, d)
      if (r.pend > 0) this.pend.add(r.id)
      return d
    })
    this.bound = this.size != null && recs.length >= this.size ? this.docs[this.docs.length - 1] : null
  }

  /**
   * Apply the current records of changed documents (undefined: no record).
   * @param {Map<string, DocRecord | undefined>} recs
   * @returns {boolean} false: the window cannot answer exactly, read it again
   */
  patch(recs) {
    const { held, pend } = this
    /** @type {object[] | null} */
    let w = null
    for (const [id, rec] of recs) {
      const doc = rec?.doc
      const old = held.get(id)
      const keep = this.keeps(doc)
      pend.delete(id)
      if (keep && rec && rec.pend > 0) pend.add(id)
      // same content, same place: the object (and the array) stay
      if (old && keep && sameDoc(old, doc)) continue
      w ??= this.docs.slice()
      if (old) {
        // found by its order; should the app have changed the object, by identity
        const i = this.#find(w, old)
        w.splice(w[i] === old ? i : w.indexOf(old), 1)
        held.delete(id)
      }
      if (keep) {
        w.splice(this.#find(w, /** @type {object} */ (doc)), 0, /** @type {object} */ (doc))
        held.set(id, /** @type {object} */ (doc))
      }
    }
    if (w) {
      const n = this.size
      if (n != null && w.length > n) {
        for (const d of w.splice(n)) {
          held.delete(/** @type {any} */ (d).id)
          pend.delete(/** @type {any} */ (d).id)
        }
        this.bound = w[n - 1]
      }
      this.docs = w
    }
    return !this.bound || this.docs.length >= /** @type {number} */ (this.q.spec.limit)
  }

  /**
   * Where `doc` is or would go in `w` (binary search: the first document not before it).
   * @param {object[]} w
   * @param {object} doc
   */
  #find(w, doc) {
    const cmp = this.q.cmp
    let lo = 0
    let hi = w.length
    while (lo < hi) {
      const m = (lo + hi) >> 1
      if (cmp(w[m], doc) < 0) lo = m + 1
      else hi = m
    }
    return lo
  }

  /**
   * The query's result, and whether one of its documents has pending writes.
   * @returns {{docs: object[], pending: boolean}}
   */
  result() {
    const l = this.q.spec.limit
    if (l == null) return { docs: this.docs, pending: this.pend.size > 0 }
    const docs = this.docs.slice(0, l)
    return { docs, pending: [...this.pend].some((id) => this.#find(this.docs, /** @type {object} */ (this.held.get(id))) < l) }
  }
}

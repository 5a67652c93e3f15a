/**
 * `LiveQuery`: a query kept answered. It evaluates once, then again after changes that can touch
 * its result: local writes, hub changes and other tabs' writes (all reach `Collection.subscribe`),
 * and acknowledgements of its documents' pending writes (`acked`, for `pending`). A change batch
 * whose documents are neither in the result nor match the query afterwards is skipped without a
 * read. Evaluations are batched per animation frame (a timer where there are no frames, e.g.
 * Node or a hidden tab), and one evaluation runs at a time.
 *
 * `getSnapshot()` returns the same object until something changed, and `subscribe(cb)` calls
 * `cb()` after each change: the pair `useSyncExternalStore` (React) and Svelte/Vue stores expect.
 */
import { readQuery } from './query-run.js'
import { matches } from './core/query.js'
import { sameDoc } from './core/records.js'

/** @typedef {import('./core/plan.js').Prepared} Prepared */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/**
 * @template {object} [T=import('./types.js').Doc]
 * @typedef {object} Snapshot a live query's current result
 * @property {import('./types.js').WithId<T>[]} docs the result (empty while `loading`); the same array while it is unchanged
 * @property {boolean} pending some document of `docs` has local writes the hub has not acknowledged yet (Firestore's `hasPendingWrites`)
 * @property {boolean} fromCache the client is not `live` (offline, connecting, catching up): the hub may hold newer documents
 * @property {boolean} loading no result yet
 * @property {unknown} error why the last evaluation failed (`docs` stays the previous result); null when it did not
 */
/**
 * @typedef {object} SnapshotMeta what `observe` callbacks get beside the documents
 * @property {boolean} pending
 * @property {boolean} fromCache
 */

const g = /** @type {any} */ (globalThis)

/** @param {() => void} f */
function nextFrame(f) {
  if (typeof g.requestAnimationFrame === 'function' && g.document?.visibilityState !== 'hidden') g.requestAnimationFrame(f)
  else setTimeout(f, 0)
}

/** @template {object} [T=import('./types.js').Doc] */
export class LiveQuery {
  /** @type {Snapshot<T>} */
  #snap = { docs: [], pending: false, fromCache: true, loading: true, error: null }
  /** @type {Set<() => void>} */
  #cbs = new Set()
  /** @type {Set<string>} ids in the result */
  #ids = new Set()
  /** @type {(() => void)[]} */
  #off = []
  #dirty = true
  #busy = false
  #frame = false
  #closed = false
  /** @type {import('./client.js').SyncClient} */
  #client
  /** @type {Prepared} */
  #q

  /**
   * @internal
   * @param {import('./collection.js').Collection<any>} coll
   * @param {Prepared} q
   */
  constructor(coll, q) {
    this.#client = coll.client
    this.#q = q
    this.#off.push(coll.subscribe((changes) => !this.#dirty && changes.some((c) => this.#ids.has(c.id) || matches(c.doc, q.cons)) && this.#mark()))
    /** @param {CustomEvent<import('./types.js').WriteResult[]>} e */
    const acked = (e) => e.detail.some((r) => r.coll === coll.name && this.#ids.has(r.id)) && this.#mark()
    const status = () => this.#schedule()
    this.#client.addEventListener('acked', acked)
    this.#client.addEventListener('status', status)
    this.#off.push(() => {
      this.#client.removeEventListener('acked', acked)
      this.#client.removeEventListener('status', status)
    })
    this.#schedule()
  }

  /** The current result; the same object until it changed. */
  getSnapshot = () => this.#snap

  /**
   * Call `cb` after every change of the snapshot (read it with `getSnapshot()`).
   * @param {() => void} cb
   * @returns {() => void} unsubscribe
   */
  subscribe = (cb) => {
    this.#cbs.add(cb)
    return () => void this.#cbs.delete(cb)
  }

  /** Stop following changes (callbacks are not called any more). */
  close() {
    this.#closed = true
    this.#cbs.clear()
    for (const f of this.#off.splice(0)) f()
  }

  #mark() {
    this.#dirty = true
    this.#schedule()
  }

  #schedule() {
    if (this.#frame || this.#closed) return
    this.#frame = true
    nextFrame(() => {
      this.#frame = false
      this.#run()
    })
  }

  /** Evaluate while changes came in since the last evaluation, then publish. */
  async #run() {
    // the running evaluation looks at `#dirty` again when it ends
    if (this.#busy || this.#closed) return
    this.#busy = true
    const old = this.#snap
    let { docs, pending, error } = old
    try {
      const { store } = await this.#client.ready
      while (this.#dirty && !this.#closed) {
        this.#dirty = false
        const recs = await readQuery(store.db, this.#q)
        const next = /** @type {any[]} */ (recs.map((r) => r.doc))
        if (next.length !== docs.length || next.some((d, i) => !sameDoc(d, docs[i]))) docs = next
        pending = recs.some((r) => r.pend > 0)
        this.#ids = new Set(recs.map((r) => r.id))
        error = null
      }
    } catch (e) {
      error = e
    } finally {
      this.#busy = false
    }
    if (this.#closed) return
    const fromCache = this.#client.status !== 'live'
    const loading = old.loading && error === null && this.#dirty
    if (docs !== old.docs || pending !== old.pending || fromCache !== old.fromCache || loading !== old.loading || error !== old.error) {
      this.#snap = { docs, pending, fromCache, loading, error }
      for (const cb of [...this.#cbs]) {
        try {
          cb()
        } catch (e) {
          // one failing callback must not keep the others from the change: reported, not swallowed
          queueMicrotask(() => {
            throw e
          })
        }
      }
    }
  }
}

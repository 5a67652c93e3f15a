/**
 * `LiveQuery`: a query kept answered. It reads its result once, then follows the changes that can
 * touch it: local writes, hub changes and other tabs' writes (all reach `Collection.subscribe`),
 * acknowledgements of its documents' pending writes (`acked`, for `pending`) and resyncs. A change
 * batch whose documents are neither in the result nor belong in it is skipped without a read. The
 * others are read back by id (the store, not the change, says what a document is now: another
 * tab's message may come after a newer local write) and patched into the result in memory
 * (`live-window.js`); the whole result is read again only when a patch cannot be exact (a limited
 * window ran short), after a resync or an error, or for more than `MAX_PATCH` documents at once.
 * Reads start at once, one at a time. A result is published as soon as it is known, but at most
 * once per animation frame (a timer where there are no frames, e.g. Node or a hidden tab): what
 * comes later in the same frame is published in the next one, together.
 *
 * `getSnapshot()` returns the same object until something changed, and `subscribe(cb)` calls
 * `cb()` after each change: the pair `useSyncExternalStore` (React) and Svelte/Vue stores expect.
 */
import { readQuery } from './query-run.js'
import { req } from './store.js'
import { DOCS, docKey } from './core/keys.js'
import { Window } from './live-window.js'

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

/** Changed documents read back by id and patched in; beyond, the result is read again. */
const MAX_PATCH = 256

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
  /** @type {(() => void)[]} */
  #off = []
  /** @type {Set<string>} ids changed since they were last read */
  #touched = new Set()
  /** read the whole result next */
  #full = true
  /** the window answers exactly (false before the first read and while a short one is read again) */
  #exact = false
  /** @type {unknown} */
  #error = null
  #busy = false
  /** 0: no publish in this animation frame; 1: one was made; 2: and another waits for the next frame */
  #frame = 0
  #closed = false
  /** @type {import('./client.js').SyncClient} */
  #client
  /** @type {Prepared} */
  #q
  /** @type {Window} */
  #win

  /**
   * @internal
   * @param {import('./collection.js').Collection<any>} coll
   * @param {Prepared} q
   */
  constructor(coll, q) {
    this.#client = coll.client
    this.#q = q
    const win = (this.#win = new Window(q))
    // while a read runs, what it returns is not known yet: every change counts
    /** @param {string} id @param {object | null} [doc] */
    const touch = (id, doc) => (this.#full || this.#busy || win.held.has(id) || (doc !== undefined && win.keeps(doc))) && this.#touched.add(id)
    this.#off.push(
      coll.subscribe((changes) => {
        for (const c of changes) touch(c.id, c.doc)
        this.#kick()
      })
    )
    /** @param {CustomEvent<import('./types.js').WriteResult[]>} e */
    const acked = (e) => {
      for (const r of e.detail) if (r.coll === coll.name) touch(r.id)
      this.#kick()
    }
    /** @param {CustomEvent<{coll: string}>} e */
    const resync = (e) => {
      if (e.detail.coll === coll.name) this.#full = true
      this.#kick()
    }
    const status = () => this.#schedule()
    const c = this.#client
    c.addEventListener('acked', acked)
    c.addEventListener('resync', /** @type {any} */ (resync))
    c.addEventListener('status', status)
    this.#off.push(() => {
      c.removeEventListener('acked', acked)
      c.removeEventListener('resync', /** @type {any} */ (resync))
      c.removeEventListener('status', status)
    })
    this.#kick()
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

  #kick() {
    if (!this.#busy && (this.#full || this.#touched.size)) this.#run()
  }

  /**
   * Publish now, unless that was done in this animation frame already: then in the next one. A
   * call that publishes nothing new (e.g. a status change while the first read runs) leaves the
   * frame free, or the first result would wait for the next frame.
   */
  #schedule() {
    if (this.#closed) return
    if (this.#frame) return void (this.#frame = 2)
    if (!this.#publish()) return
    this.#frame = 1
    nextFrame(() => {
      const again = this.#frame > 1
      this.#frame = 0
      if (again) this.#schedule()
    })
  }

  /** Bring the window up to date with every change heard, then publish. */
  async #run() {
    if (this.#closed) return
    this.#busy = true
    const win = this.#win
    try {
      const { db } = (await this.#client.ready).store
      while (!this.#closed && (this.#full || this.#touched.size)) {
        const ids = [...this.#touched]
        this.#touched.clear()
        if (!this.#full && ids.length <= MAX_PATCH) {
          const s = db.transaction(DOCS, 'readonly').objectStore(DOCS)
          const recs = await Promise.all(ids.map((id) => req(s.get(docKey(this.#q.spec.coll, id)))))
          if ((this.#exact = win.patch(new Map(ids.map((id, i) => [id, recs[i]]))))) continue
        }
        // changes heard until the read starts are in it
        this.#full = false
        this.#touched.clear()
        const q = this.#q
        win.reset(await readQuery(db, win.size == null ? q : { ...q, spec: { ...q.spec, limit: win.size } }))
        this.#exact = true
        this.#error = null
      }
    } catch (e) {
      this.#error = e
      this.#full = true
    } finally {
      this.#busy = false
    }
    this.#schedule()
  }

  /** @returns {boolean} a new snapshot went out */
  #publish() {
    if (this.#closed) return false
    const old = this.#snap
    let { docs, pending } = old
    const error = this.#error
    if (this.#exact && !error) {
      const r = this.#win.result()
      pending = r.pending
      if (r.docs.length !== docs.length || r.docs.some((d, i) => d !== docs[i])) docs = /** @type {any[]} */ (r.docs)
    }
    const fromCache = this.#client.status !== 'live'
    const loading = old.loading && !this.#exact && !error
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
      return true
    }
    return false
  }
}

/**
 * `Collection`: one collection of a `SyncClient` (writes, reads, change callbacks). Writes are
 * checked here and queued by the client.
 */
import { encode } from '@msgpack/msgpack'
import { docProblem } from './core/limits.js'
import { write } from './writes.js'

/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./client.js').SyncClient} SyncClient */

/**
 * Obtained from `client.collection<T>(name)`; `T` types its documents.
 * @template {object} [T=Doc]
 */
export class Collection {
  /** @internal @type {SyncClient} */
  client
  /** @readonly @type {string} */
  name

  /**
   * @internal
   * @param {SyncClient} client
   * @param {string} name
   */
  constructor(client, name) {
    this.client = client
    this.name = name
  }

  /**
   * Store a whole document (needs a string `id`); visible locally at once, queued for the hub.
   * Resolves once stored locally (document and outbox entry in one transaction), with a handle
   * whose `result` is the hub's verdict.
   * @param {import('./types.js').WithId<T>} doc
   * @returns {Promise<import('./types.js').WriteHandle<T>>}
   */
  put(doc) {
    return this.update(/** @type {any} */ (doc)?.id, () => doc, 'put')
  }

  /**
   * Read-modify-write in one local transaction: `fn` (synchronous) gets the local view of `id`
   * (undefined when absent) and returns the new document, or null to delete it. The write is based
   * on the version `fn` read, so a change that arrives from the hub meanwhile is not silently
   * overwritten (under `reject-if-stale` the hub refuses the write: a `conflict` event). Resolves
   * like `put`; a document `fn` returns that `put` would refuse rejects with a TypeError.
   * @param {string} id
   * @param {(cur: import('./types.js').WithId<T> | undefined) => T | null} fn
   * @returns {Promise<import('./types.js').WriteHandle<T>>}
   */
  update(id, fn, op = 'update') {
    // checked as the hub will: the id (1..512 bytes of UTF-8; msgpack adds up to 3) travels
    // beside the document
    if (typeof id !== 'string' || !id || encode(id).byteLength > 515) return Promise.reject(new TypeError(op + ': doc.id: string of 1..512 bytes expected'))
    return /** @type {any} */ (write(this.client, this.name, id, (cur) => {
      const doc = fn(/** @type {any} */ (cur))
      if (doc === null) return null
      const { id: _, ...body } = /** @type {Doc} */ (doc)
      let why
      try {
        why = docProblem(body, encode(body, { useBigInt64: true, ignoreUndefined: true }).byteLength, this.client.o.docLimits)
      } catch (e) {
        why = '' + e // not msgpack-encodable
      }
      if (why) throw new TypeError(op + ': ' + why)
      return { ...body, id }
    }))
  }

  /**
   * Delete a document; resolves like `put`.
   * @param {string} id
   * @returns {Promise<import('./types.js').WriteHandle<T>>}
   */
  delete(id) {
    if (typeof id !== 'string' || !id) return Promise.reject(new TypeError('delete: id required'))
    return /** @type {any} */ (write(this.client, this.name, id, null))
  }

  /** @param {string} id @returns {Promise<import('./types.js').WithId<T> | undefined>} the local view (pending writes included) */
  async get(id) {
    const { store } = await this.client.ready
    return /** @type {any} */ (store.get(this.name, id))
  }

  /** @returns {Promise<import('./types.js').WithId<T>[]>} every live document, ordered by id */
  async getAll() {
    const { store } = await this.client.ready
    return /** @type {any} */ (store.getAll(this.name))
  }

  /**
   * Call `cb` with every batch of changes to this collection, local and remote.
   * @param {(changes: import('./types.js').Change<T>[]) => void} cb
   * @returns {() => void} unsubscribe
   */
  subscribe(cb) {
    const subs = this.client.subs
    const set = subs.get(this.name) || new Set()
    subs.set(this.name, set)
    set.add(/** @type {any} */ (cb))
    return () => set.delete(/** @type {any} */ (cb))
  }
}

/**
 * `Collection`: one collection of a `SyncClient` (writes, reads, change callbacks). Writes are
 * checked here and queued by the client.
 */
import { encode } from '@msgpack/msgpack'
import { docProblem } from './core/limits.js'

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
    // checked as the hub will: without `id`, which travels beside the document
    const { id, ...body } = /** @type {Doc} */ (doc || { id: null })
    let why = typeof id !== 'string' || !id || new TextEncoder().encode(id).length > 512 ? 'doc.id: string of 1..512 bytes expected' : ''
    try {
      why ||= docProblem(body, encode(body, { useBigInt64: true, ignoreUndefined: true }).byteLength, this.client.o.docLimits)
    } catch (e) {
      why = 'document is not msgpack-encodable: ' + e
    }
    return why ? Promise.reject(new TypeError('put: ' + why)) : /** @type {any} */ (this.client.write(this.name, /** @type {string} */ (id), /** @type {Doc} */ (doc)))
  }

  /**
   * Delete a document; resolves like `put`.
   * @param {string} id
   * @returns {Promise<import('./types.js').WriteHandle<T>>}
   */
  delete(id) {
    if (typeof id !== 'string' || !id) return Promise.reject(new TypeError('delete: id required'))
    return /** @type {any} */ (this.client.write(this.name, id, null))
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

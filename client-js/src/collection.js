/**
 * `Collection`: one collection of a `SyncClient` (writes, reads, change callbacks). Writes are
 * checked here and queued by the client.
 */
import { encode } from '@msgpack/msgpack'
import { docProblem } from './core/limits.js'

/** @typedef {import('./core/records.js').Doc} Doc */
/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./client.js').Change} Change */

export class Collection {
  /**
   * @param {SyncClient} client
   * @param {string} name
   */
  constructor(client, name) {
    this.client = client
    this.name = name
  }

  /**
   * Store a whole document (needs a string `id`); visible locally at once, queued for the hub.
   * @param {Doc & {id: string}} doc
   * @returns {Promise<void>}
   */
  put(doc) {
    // checked as the hub will: without `id`, which travels beside the document
    const { id, ...body } = doc || { id: null }
    let why = typeof id !== 'string' || !id || new TextEncoder().encode(id).length > 512 ? 'doc.id: string of 1..512 bytes expected' : ''
    try {
      why ||= docProblem(body, encode(body, { useBigInt64: true, ignoreUndefined: true }).byteLength, this.client.o.docLimits)
    } catch (e) {
      why = 'document is not msgpack-encodable: ' + e
    }
    return why ? Promise.reject(new TypeError('put: ' + why)) : this.client.write(this.name, id, doc)
  }

  /** @param {string} id @returns {Promise<void>} */
  delete(id) {
    if (typeof id !== 'string' || !id) return Promise.reject(new TypeError('delete: id required'))
    return this.client.write(this.name, id, null)
  }

  /** @param {string} id @returns {Promise<Doc | undefined>} */
  async get(id) {
    const { store } = await this.client.ready
    return store.get(this.name, id)
  }

  /** @returns {Promise<Doc[]>} every live document, ordered by id */
  async getAll() {
    const { store } = await this.client.ready
    return store.getAll(this.name)
  }

  /**
   * Call `cb` with every batch of changes to this collection, local and remote.
   * @param {(changes: Change[]) => void} cb
   * @returns {() => void} unsubscribe
   */
  subscribe(cb) {
    const subs = this.client.subs
    const set = subs.get(this.name) || new Set()
    subs.set(this.name, set)
    set.add(cb)
    return () => set.delete(cb)
  }
}

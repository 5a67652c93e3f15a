/**
 * `synchub-client/svelte`: Svelte stores (the `subscribe` contract; no svelte dependency) over live
 * queries, documents, the sync status and the outbox. Use them with `$`:
 *
 *   const open = liveQuery(query(todos).where('done', '==', false))
 *   {#each $open as todo (todo.id)} ... {/each}
 *
 * A store follows the client while it has subscribers (the first starts it, a task after the last
 * left it stops) and calls them only when its value changed.
 */
import { liveSource, docSource, statusSource, pendingSource } from './external-store.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */
/**
 * @template V
 * @typedef {{subscribe: (run: (value: V) => void) => () => void}} Readable a Svelte readable store
 */

/**
 * @template S, V
 * @param {import('./external-store.js').ExternalStore<S>} s
 * @param {(snap: S) => V} pick
 * @returns {Readable<V>}
 */
function readable(s, pick) {
  return {
    subscribe(run) {
      /** @type {V | {}} */
      let last = {}
      const emit = () => {
        const v = pick(s.getSnapshot())
        if (v !== last) run((last = v))
      }
      const off = s.subscribe(emit)
      emit() // a store hands its value to a new subscriber at once
      return off
    },
  }
}

/** @template V @param {V} v */
const same = (v) => v

/**
 * The documents of a live query (empty until first read).
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {Readable<import('./types.js').WithId<T>[]>}
 */
export const liveQuery = (q) => readable(liveSource(q), (snap) => snap.docs)

/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {Readable<import('./live-query.js').Snapshot<T>>}
 */
export const liveSnapshot = (q) => readable(liveSource(q), same)

/**
 * One document's local view: `undefined` until read, `null` when there is none.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {Readable<import('./types.js').WithId<T> | null | undefined>}
 */
export const doc = (coll, id) => readable(docSource(coll, id), same)

/**
 * The client's status.
 * @param {SyncClient} client
 * @returns {Readable<import('./types.js').Status>}
 */
export const syncStatus = (client) => readable(statusSource(client), same)

/**
 * The writes the hub has not acknowledged yet (empty until read).
 * @param {SyncClient} client
 * @returns {Readable<import('./types.js').PendingWrite[]>}
 */
export const pendingWrites = (client) => readable(pendingSource(client), same)

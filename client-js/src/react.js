/**
 * `synchub-client/react`: hooks over live queries, documents, the sync status and the outbox, built
 * on `useSyncExternalStore` (React 18+; `react` is a peer dependency). Snapshots are stable: a
 * component re-renders only when its result changed.
 *
 *   const open = useLiveQuery(query(todos).where('done', '==', false).orderBy('created'))
 *   const todo = useDoc(todos, id)           // undefined while read, null when there is none
 *   const status = useSyncStatus(client)     // 'live', 'offline', ...
 *   const unsaved = usePendingWrites(client).length
 *
 * The query may be built anew in every render: it is told apart by what it asks, and its live
 * query starts again only when that changes. Rendered on a server (and while hydrating), each
 * hook gives its value before anything was read: no documents (`loading`), `undefined`,
 * `offline`, no pending writes.
 */
import { useMemo, useSyncExternalStore } from 'react'
import { liveSource, docSource, statusSource, pendingSource, queryKey } from './external-store.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */

/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {import('./live-query.js').Snapshot<T>}
 */
export function useLiveSnapshot(q) {
  const s = useSource(q)
  return useSyncExternalStore(s.subscribe, s.getSnapshot, s.getServerSnapshot)
}

/**
 * The documents of a live query (empty until first read); the same array until the result
 * changed, so a component re-renders when the documents change, not for `pending` or `fromCache`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {import('./types.js').WithId<T>[]}
 */
export function useLiveQuery(q) {
  const s = useSource(q)
  return useSyncExternalStore(s.subscribe, () => s.getSnapshot().docs, () => s.getServerSnapshot().docs)
}

/**
 * The live query of `q`, the same while `q` asks the same.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 */
const useSource = (q) => useMemo(() => liveSource(q), [q.collection, queryKey(q)])

/**
 * One document's local view (pending writes included), kept current.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {import('./types.js').WithId<T> | null | undefined} `undefined` until read; `null`: no such document
 */
export function useDoc(coll, id) {
  const s = useMemo(() => docSource(coll, id), [coll, id])
  return useSyncExternalStore(s.subscribe, s.getSnapshot, s.getServerSnapshot)
}

/**
 * The client's status (`offline`, `connecting`, `syncing`, `live`, `unauthorized`, `paused`).
 * @param {SyncClient} client
 * @returns {import('./types.js').Status}
 */
export function useSyncStatus(client) {
  const s = useMemo(() => statusSource(client), [client])
  return useSyncExternalStore(s.subscribe, s.getSnapshot, s.getServerSnapshot)
}

/**
 * The writes the hub has not acknowledged yet (`client.pendingWrites()`, oldest first), kept
 * current; empty until read.
 * @param {SyncClient} client
 * @returns {import('./types.js').PendingWrite[]}
 */
export function usePendingWrites(client) {
  const s = pendingSource(client)
  return useSyncExternalStore(s.subscribe, s.getSnapshot, s.getServerSnapshot)
}

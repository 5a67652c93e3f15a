export type SyncClient = import('./client.js').SyncClient;
/** @typedef {import('./client.js').SyncClient} SyncClient */
/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {import('./live-query.js').Snapshot<T>}
 */
export declare function useLiveSnapshot<T extends object>(q: import('./query.js').Query<T>): import('./live-query.js').Snapshot<T>;
/**
 * The documents of a live query (empty until first read); the same array until the result
 * changed, so a component re-renders when the documents change, not for `pending` or `fromCache`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {import('./types.js').WithId<T>[]}
 */
export declare function useLiveQuery<T extends object>(q: import('./query.js').Query<T>): import('./types.js').WithId<T>[];
/**
 * One document's local view (pending writes included), kept current.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {import('./types.js').WithId<T> | null | undefined} `undefined` until read; `null`: no such document
 */
export declare function useDoc<T extends object>(coll: import('./collection.js').Collection<T>, id: string): import('./types.js').WithId<T> | null | undefined;
/**
 * The client's status (`offline`, `connecting`, `syncing`, `live`, `unauthorized`, `paused`).
 * @param {SyncClient} client
 * @returns {import('./types.js').Status}
 */
export declare function useSyncStatus(client: SyncClient): import('./types.js').Status;
/**
 * The writes the hub has not acknowledged yet (`client.pendingWrites()`, oldest first), kept
 * current; empty until read.
 * @param {SyncClient} client
 * @returns {import('./types.js').PendingWrite[]}
 */
export declare function usePendingWrites(client: SyncClient): import('./types.js').PendingWrite[];

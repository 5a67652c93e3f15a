export type SyncClient = import('./client.js').SyncClient;
export type PendingWrite = import('./types.js').PendingWrite;
export type ExternalStore<V> = {
    /**
     * call `cb` after every change of the snapshot
     */
    subscribe: (cb: () => void) => () => void;
    /**
     * the current value; the same until it changed
     */
    getSnapshot: () => V;
    /**
     * the value before anything was read (server rendering, hydration)
     */
    getServerSnapshot: () => V;
};
/**
 * A key telling queries apart by what they ask (the same query built again in each render has the
 * same key). Dates, bigints and strings are tagged so that `5n`, `'5'` and a date do not collide.
 * @param {import('./query.js').Query<any>} q
 */
export declare function queryKey(q: import('./query.js').Query<any>): string;
/**
 * The snapshots of a live query of `q` (`{docs, pending, fromCache, loading, error}`). A restart
 * after the last subscriber left keeps showing the previous result until the new one is read.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {ExternalStore<import('./live-query.js').Snapshot<T>>}
 */
export declare function liveSource<T extends object>(q: import('./query.js').Query<T>): ExternalStore<import('./live-query.js').Snapshot<T>>;
/**
 * One document's local view: `undefined` until read, `null` when there is none (or deleted).
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {ExternalStore<import('./types.js').WithId<T> | null | undefined>}
 */
export declare function docSource<T extends object>(coll: import('./collection.js').Collection<T>, id: string): ExternalStore<import('./types.js').WithId<T> | null | undefined>;
/**
 * The client's status (`offline`, `connecting`, `syncing`, `live`, `unauthorized`, `paused`).
 * @param {SyncClient} client
 * @returns {ExternalStore<import('./types.js').Status>}
 */
export declare function statusSource(client: SyncClient): ExternalStore<import('./types.js').Status>;
/**
 * The client's outbox (`pendingWrites()`), read again after local writes, other tabs' writes and
 * the hub's acknowledgements; the same array while the same writes are pending.
 * @param {SyncClient} client
 * @returns {ExternalStore<PendingWrite[]>}
 */
export declare function pendingSource(client: SyncClient): ExternalStore<PendingWrite[]>;

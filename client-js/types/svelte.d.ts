export type SyncClient = import('./client.js').SyncClient;
export type Readable<V> = {
    subscribe: (run: (value: V) => void) => () => void;
};
/**
 * The documents of a live query (empty until first read).
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {Readable<import('./types.js').WithId<T>[]>}
 */
export declare const liveQuery: <T extends object>(q: import('./query.js').Query<T>) => Readable<import('./types.js').WithId<T>[]>;
/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {Readable<import('./live-query.js').Snapshot<T>>}
 */
export declare const liveSnapshot: <T extends object>(q: import('./query.js').Query<T>) => Readable<import('./live-query.js').Snapshot<T>>;
/**
 * One document's local view: `undefined` until read, `null` when there is none.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {Readable<import('./types.js').WithId<T> | null | undefined>}
 */
export declare const doc: <T extends object>(coll: import('./collection.js').Collection<T>, id: string) => Readable<import('./types.js').WithId<T> | null | undefined>;
/**
 * The client's status.
 * @param {SyncClient} client
 * @returns {Readable<import('./types.js').Status>}
 */
export declare const syncStatus: (client: SyncClient) => Readable<import('./types.js').Status>;
/**
 * The writes the hub has not acknowledged yet (empty until read).
 * @param {SyncClient} client
 * @returns {Readable<import('./types.js').PendingWrite[]>}
 */
export declare const pendingWrites: (client: SyncClient) => Readable<import('./types.js').PendingWrite[]>;

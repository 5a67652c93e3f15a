export type SyncClient = import('./client.js').SyncClient;
export type MaybeRefOrGetter<V> = import('vue').MaybeRefOrGetter<V>;
export type ReadonlyRef<V> = Readonly<import('vue').Ref<V>>;
/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {MaybeRefOrGetter<import('./query.js').Query<T>>} q
 * @returns {ReadonlyRef<import('./live-query.js').Snapshot<T>>}
 */
export declare function useLiveSnapshot<T extends object>(q: MaybeRefOrGetter<import('./query.js').Query<T>>): ReadonlyRef<import('./live-query.js').Snapshot<T>>;
/**
 * The documents of a live query (empty until first read).
 * @template {object} T
 * @param {MaybeRefOrGetter<import('./query.js').Query<T>>} q
 * @returns {ReadonlyRef<import('./types.js').WithId<T>[]>}
 */
export declare function useLiveQuery<T extends object>(q: MaybeRefOrGetter<import('./query.js').Query<T>>): ReadonlyRef<import('./types.js').WithId<T>[]>;
/**
 * One document's local view: `undefined` until read, `null` when there is none.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {MaybeRefOrGetter<string>} id
 * @returns {ReadonlyRef<import('./types.js').WithId<T> | null | undefined>}
 */
export declare function useDoc<T extends object>(coll: import('./collection.js').Collection<T>, id: MaybeRefOrGetter<string>): ReadonlyRef<import('./types.js').WithId<T> | null | undefined>;
/**
 * The client's status.
 * @param {SyncClient} client
 * @returns {ReadonlyRef<import('./types.js').Status>}
 */
export declare const useSyncStatus: (client: SyncClient) => ReadonlyRef<import('./types.js').Status>;
/**
 * The writes the hub has not acknowledged yet (empty until read).
 * @param {SyncClient} client
 * @returns {ReadonlyRef<import('./types.js').PendingWrite[]>}
 */
export declare const usePendingWrites: (client: SyncClient) => ReadonlyRef<import('./types.js').PendingWrite[]>;

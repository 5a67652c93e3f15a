export type Doc = import('./types.js').Doc;
export type SyncClient = import('./client.js').SyncClient;
/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./client.js').SyncClient} SyncClient */
/**
 * Obtained from `client.collection<T>(name)`; `T` types its documents.
 * @template {object} [T=Doc]
 */
export declare class Collection<T extends object = Doc> {
    /** @readonly @type {string} */
    readonly name: string;
    /**
     * Store a whole document (needs a string `id`); visible locally at once, queued for the hub.
     * Resolves once stored locally (document and outbox entry in one transaction), with a handle
     * whose `result` is the hub's verdict.
     * @param {import('./types.js').WithId<T>} doc
     * @returns {Promise<import('./types.js').WriteHandle<T>>}
     */
    put(doc: import('./types.js').WithId<T>): Promise<import('./types.js').WriteHandle<T>>;
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
    update(id: string, fn: (cur: import('./types.js').WithId<T> | undefined) => T | null, op?: string): Promise<import('./types.js').WriteHandle<T>>;
    /**
     * Delete a document; resolves like `put`.
     * @param {string} id
     * @returns {Promise<import('./types.js').WriteHandle<T>>}
     */
    delete(id: string): Promise<import('./types.js').WriteHandle<T>>;
    /** @param {string} id @returns {Promise<import('./types.js').WithId<T> | undefined>} the local view (pending writes included) */
    get(id: string): Promise<import('./types.js').WithId<T> | undefined>;
    /** @returns {Promise<import('./types.js').WithId<T>[]>} every live document, ordered by id */
    getAll(): Promise<import('./types.js').WithId<T>[]>;
    /**
     * Call `cb` with every batch of changes to this collection, local and remote.
     * @param {(changes: import('./types.js').Change<T>[]) => void} cb
     * @returns {() => void} unsubscribe
     */
    subscribe(cb: (changes: import('./types.js').Change<T>[]) => void): () => void;
}

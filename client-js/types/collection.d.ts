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

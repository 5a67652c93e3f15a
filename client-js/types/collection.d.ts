export type Doc = import('./core/records.js').Doc;
export type SyncClient = import('./client.js').SyncClient;
export type Change = import('./client.js').Change;
/** @typedef {import('./core/records.js').Doc} Doc */
/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./client.js').Change} Change */
export declare class Collection {
    client: import("./client.js").SyncClient;
    name: string;
    /**
     * @param {SyncClient} client
     * @param {string} name
     */
    constructor(client: SyncClient, name: string);
    /**
     * Store a whole document (needs a string `id`); visible locally at once, queued for the hub.
     * @param {Doc & {id: string}} doc
     * @returns {Promise<void>}
     */
    put(doc: Doc & {
        id: string;
    }): Promise<void>;
    /** @param {string} id @returns {Promise<void>} */
    delete(id: string): Promise<void>;
    /** @param {string} id @returns {Promise<Doc | undefined>} */
    get(id: string): Promise<Doc | undefined>;
    /** @returns {Promise<Doc[]>} every live document, ordered by id */
    getAll(): Promise<Doc[]>;
    /**
     * Call `cb` with every batch of changes to this collection, local and remote.
     * @param {(changes: Change[]) => void} cb
     * @returns {() => void} unsubscribe
     */
    subscribe(cb: (changes: Change[]) => void): () => void;
}

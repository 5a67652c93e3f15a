export type Doc = import('./core/records.js').Doc;
export type DocRecord = import('./core/records.js').DocRecord;
export type OutboxEntry = import('./core/records.js').OutboxEntry;
export type AckResult = import('./core/records.js').AckResult;
export type Cursor = import('./core/cursor.js').Cursor;
export type Change = import('./core/messages.js').Change;
export type StoredChange = {
    type: 'put' | 'delete';
    coll: string;
    id: string;
    doc: Doc | null;
};
export type Conflict = import('./types.js').Conflict;
export type WriteResult = import('./types.js').WriteResult;
/** @typedef {import('./core/records.js').Doc} Doc */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/** @typedef {import('./core/records.js').OutboxEntry} OutboxEntry */
/** @typedef {import('./core/records.js').AckResult} AckResult */
/** @typedef {import('./core/cursor.js').Cursor} Cursor */
/** @typedef {import('./core/messages.js').Change} Change */
/** @typedef {{type: 'put' | 'delete', coll: string, id: string, doc: Doc | null}} StoredChange */
/** @typedef {import('./types.js').Conflict} Conflict */
/** @typedef {import('./types.js').WriteResult} WriteResult */
/**
 * @template T
 * @param {IDBRequest<T>} r
 * @returns {Promise<T>}
 */
export declare function req<T>(r: IDBRequest<T>): Promise<T>;
/**
 * Create the base layout (version 1) in a new database: `docs`, `outbox` (with its `doc` index)
 * and `meta`. Later versions only add indexes (`synchub-client/query`).
 * @param {IDBDatabase} db
 */
export declare function createLayout(db: IDBDatabase): void;
export type Schema = {
    /**
     * opens the database
     * at whatever version holds the declared indexes (upgrading it when needed)
     */
    open: (factory: IDBFactory, name: string) => Promise<IDBDatabase>;
    /**
     * adds the derived index keys to a record before it is stored
     */
    dress: (rec: DocRecord) => DocRecord;
};
/**
 * Open (creating if needed) the client database. Opened at its current version: query indexes
 * (`schema`) raise it above 1.
 * @param {IDBFactory} factory
 * @param {string} name
 * @param {() => void} onVersionChange called after another context asked to upgrade or delete
 *   the database; the connection is closed by then
 * @param {Schema | null} [schema]
 * @returns {Promise<Store>}
 */
export declare function openStore(factory: IDBFactory, name: string, onVersionChange: () => void, schema?: Schema | null): Promise<Store>;
export declare class Store {
    #private;
    db: IDBDatabase;
    x: (rec: DocRecord) => DocRecord;
    /**
     * @param {IDBDatabase} db
     * @param {(rec: DocRecord) => DocRecord} dress applied to every record stored
     */
    constructor(db: IDBDatabase, dress: (rec: DocRecord) => DocRecord);
    /**
     * Run `fn` in one transaction; resolves after the commit, rejects (and aborts) on any error.
     * @template T
     * @param {string[]} stores
     * @param {IDBTransactionMode} mode
     * @param {(tx: IDBTransaction) => Promise<T>} fn
     * @returns {Promise<T>}
     */
    run<T>(stores: string[], mode: IDBTransactionMode, fn: (tx: IDBTransaction) => Promise<T>): Promise<T>;
    /** Persistent random client id, created on first use. @returns {Promise<string>} */
    clientId(): Promise<string>;
    /**
     * Apply local writes and queue them, all in one transaction (seq and clock included). Each op
     * gets its `seq`.
     * @param {{c: string, id: string, doc: Doc | null | ((cur: Doc | undefined) => Doc | null), seq?: number}[]} ops
     *   a function `doc` (`update()`) computes the document from the local view it replaces, here,
     *   so that the write's base is the version it read
     * @param {(stored: bigint) => bigint} nextTs next clock value given the last stored one
     * @returns {Promise<StoredChange[]>}
     */
    write(ops: {
        c: string;
        id: string;
        doc: Doc | null | ((cur: Doc | undefined) => Doc | null);
        seq?: number;
    }[], nextTs: (stored: bigint) => bigint): Promise<StoredChange[]>;
    /**
     * Apply changes from the hub and advance the collection's cursor in the same transaction.
     * @param {string} c
     * @param {Change[]} changes
     * @param {Cursor | null} cursor
     * @param {boolean} [fresh] the documents are most likely not held (a first sync): added without
     *   reading them first. One held already fails its `add` and aborts the transaction; the
     *   changes are then applied again, reading each.
     * @returns {Promise<StoredChange[]>} the changes visible to the app
     */
    applyRemote(c: string, changes: Change[], cursor: Cursor | null, fresh?: boolean): Promise<StoredChange[]>;
    /**
     * End a sync: store its cursor; with `reset`, drop documents it did not mention unless they
     * have pending writes (those keep their view, but their server state becomes "absent").
     * @param {string} c
     * @param {Cursor} cursor
     * @param {boolean} reset
     * @param {Set<string>} seen
     * @returns {Promise<StoredChange[]>}
     */
    finishSync(c: string, cursor: Cursor, reset: boolean, seen: Set<string>): Promise<StoredChange[]>;
    /**
     * Apply the hub's results and remove the acknowledged entries from the outbox.
     * @param {AckResult[]} results
     * @param {Map<number, OutboxEntry>} [sent] the entries as sent on this connection (saves reading them back)
     * @returns {Promise<{changes: StoredChange[], conflicts: Conflict[], failed: import('./types.js').SyncError[], done: WriteResult[]}>}
     *   `failed`: the `error` results, whose `server` is the document the view fell back to
     */
    applyAcks(results: AckResult[], sent?: Map<number, OutboxEntry>): Promise<{
        changes: StoredChange[];
        conflicts: Conflict[];
        failed: import('./types.js').SyncError[];
        done: WriteResult[];
    }>;
    /**
     * Outbox entries after `afterSeq` (sequence numbers start at 1: `readOutbox(0)` reads them all).
     * @param {number} afterSeq
     * @param {number} [limit] default: all
     * @returns {Promise<OutboxEntry[]>}
     */
    readOutbox(afterSeq: number, limit?: number): Promise<OutboxEntry[]>;
    /** @returns {Promise<number>} */
    outboxCount(): Promise<number>;
    /**
     * @param {string} c
     * @param {string} id
     * @returns {Promise<Doc | undefined>}
     */
    get(c: string, id: string): Promise<Doc | undefined>;
    /**
     * @param {string} c
     * @returns {Promise<Doc[]>}
     */
    getAll(c: string): Promise<Doc[]>;
    /**
     * Where a sync of `c` starts: its cursor, and whether nothing of `c` is held.
     * @param {string} c
     * @returns {Promise<{cursor: Cursor | null, empty: boolean}>}
     */
    syncStart(c: string): Promise<{
        cursor: Cursor | null;
        empty: boolean;
    }>;
    close(): void;
}

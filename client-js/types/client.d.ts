import { Collection } from './collection.js';
import { Syncer } from './sync.js';
import { Tabs } from './tabs.js';
export type Doc = import('./core/records.js').Doc;
export type Status = import('./core/state.js').Status;
export type StoredChange = import('./store.js').StoredChange;
export type Store = import('./store.js').Store;
export type OutboxEntry = import('./core/records.js').OutboxEntry;
export type Change = {
    type: 'put' | 'delete';
    id: string;
    doc: Doc | null;
    /**
     * `local`: written by this client object; `remote`: by the hub or another tab
     */
    origin: 'local' | 'remote';
    /**
     * `doc` is the hub's placeholder `{id, $oversize: {reason, limit, size}}` for a stored document beyond the limits
     */
    oversize?: true;
};
export type Timers = {
    setTimeout: (fn: () => void, ms: number) => ReturnType<typeof setTimeout>;
    clearTimeout: (id: ReturnType<typeof setTimeout> | undefined) => void;
};
export type SyncClientOptions = {
    /**
     * WebSocket URL of the hub's `/sync` endpoint
     */
    url: string;
    /**
     * IndexedDB database name (default `synchub`)
     */
    dbName?: string;
    /**
     * who is signed in (the subject of the hub's tokens). Each user
     * gets a database of its own, `<dbName>:<user>` (documents, cursors, outbox, tab lock), and the
     * client stops (error `user-mismatch`) rather than sync it when the hub authenticates someone
     * else. Without it every user of the browser shares one database and one outbox.
     */
    user?: string | null;
    /**
     * sent in `hello`; a function is called on every connect and, before the token expires, for an in-band refresh (`auth`)
     */
    token?: string | null | (() => Promise<string | null>);
    /**
     * default: `globalThis.WebSocket`
     */
    WebSocket?: typeof WebSocket;
    /**
     * default: `globalThis.indexedDB`
     */
    indexedDB?: IDBFactory;
    /**
     * Web Locks; default `navigator.locks`; `null` = every tab connects
     */
    locks?: import('./tabs.js').LockManagerLike | null;
    /**
     * default: the global; `null` = no cross-tab fan-out
     */
    BroadcastChannel?: (typeof BroadcastChannel) | null;
    /**
     * source of `online`/`offline`; default the global scope
     */
    events?: EventTarget | null;
    /**
     * source of `visibilitychange`
     */
    document?: {
        visibilityState: string;
        addEventListener: EventTarget['addEventListener'];
        removeEventListener: EventTarget['removeEventListener'];
    } | null;
    /**
     * sent in `hello`
     */
    app?: string | null;
    /**
     * wall clock in ms
     */
    now?: () => number;
    /**
     * uniform in [0, 1)
     */
    random?: () => number;
    timers?: Timers;
    /**
     * ms (default 500)
     */
    backoffMin?: number;
    /**
     * ms (default 20000)
     */
    backoffMax?: number;
    /**
     * ms until `welcome` (default 15000)
     */
    connectTimeout?: number;
    /**
     * mutation batches awaiting an ack (default 4)
     */
    maxInFlight?: number;
    /**
     * what `put` accepts (docs/protocol.md "Document limits"); the hub's, once connected
     */
    docLimits?: import('./core/limits.js').DocLimits;
    /**
     * msgpack decoder limits for hub frames
     */
    limits?: import('./transport-ws.js').Limits;
};
/** Fires `status`, `conflict`, `resync`, `error` and `progress` events (`CustomEvent`, payload in `detail`). */
export declare class SyncClient extends EventTarget {
    /** @type {Required<SyncClientOptions>} */
    o: Required<SyncClientOptions>;
    /** @type {Status} */
    status: Status;
    /** Holds the connection for this database (false in follower tabs). */
    leader: boolean;
    /** @type {Map<string, Collection>} */
    colls: Map<string, Collection>;
    /** @type {Map<string, Set<(changes: Change[]) => void>>} */
    subs: Map<string, Set<(changes: Change[]) => void>>;
    /** @type {{c: string, id: string, doc: Doc | null, res: () => void, rej: (e: unknown) => void}[]} */
    wq: {
        c: string;
        id: string;
        doc: Doc | null;
        res: () => void;
        rej: (e: unknown) => void;
    }[];
    writing: boolean;
    /** @type {Syncer | null} */
    syncer: Syncer | null;
    /** @type {Error | null} set when the client can no longer work (closed, database taken away) */
    dead: Error | null;
    ts: bigint;
    /** @type {Set<{res: () => void, rej: (e: unknown) => void}>} */
    waiters: Set<{
        res: () => void;
        rej: (e: unknown) => void;
    }>;
    tabs: Tabs;
    onOnline: () => void | undefined;
    onOffline: () => void | undefined;
    onVisible: () => void | false | undefined;
    /** @type {Promise<{store: Store, clientId: string}>} */
    ready: Promise<{
        store: Store;
        clientId: string;
    }>;
    /** @param {SyncClientOptions} options */
    constructor(options: SyncClientOptions);
    init(): Promise<{
        store: import("./store.js").Store;
        clientId: string;
    }>;
    /** @param {Store} store @param {string} clientId */
    startLeading(store: Store, clientId: string): void;
    /** @param {any} m a message from another tab */
    onTab(m: any): void;
    /** @param {Status} s @param {boolean} share */
    setStatus(s: Status, share: boolean): void;
    /** @param {string} type @param {unknown} detail */
    emit(type: string, detail: unknown): void;
    /**
     * Deliver stored changes to subscribers (and to other tabs when they happened here).
     * @param {StoredChange[]} changes
     * @param {'local' | 'remote'} origin
     * @param {boolean} share
     */
    changed(changes: StoredChange[], origin: 'local' | 'remote', share: boolean): void;
    /**
     * The collection named `name`; it is subscribed on the hub from now on.
     * @param {string} name
     * @returns {Collection}
     */
    collection(name: string): Collection;
    /**
     * Queue a local write; writes issued together commit in one transaction.
     * @param {string} c
     * @param {string} id
     * @param {Doc | null} doc
     * @returns {Promise<void>}
     */
    write(c: string, id: string, doc: Doc | null): Promise<void>;
    drain(): Promise<void>;
    /**
     * Outbox entries not acknowledged yet (persisted: survives reloads), oldest first.
     * @returns {Promise<{seq: number, coll: string, id: string, op: 'put' | 'del', doc: Doc | null, ts: bigint}[]>}
     */
    pendingWrites(): Promise<{
        seq: number;
        coll: string;
        id: string;
        op: 'put' | 'del';
        doc: Doc | null;
        ts: bigint;
    }[]>;
    /** Number of outbox entries not acknowledged yet. @returns {Promise<number>} */
    pendingCount(): Promise<number>;
    /** Resolves when the outbox is empty (every write acknowledged by the hub). @returns {Promise<void>} */
    flush(): Promise<void>;
    wake(): void;
    /**
     * Call the `token` function now and hand the new token to the hub without reconnecting (e.g.
     * after the user's permissions changed). Collections the hub had ended are subscribed again
     * once it accepts. In a follower tab the request goes to the leader tab.
     * @returns {Promise<boolean>} true when the hub accepted the token; false when it refused it,
     *   the client is not connected (it reconnects at once, asking the `token` function), the
     *   `token` option is not a function, or this tab is a follower
     */
    refreshToken(): Promise<boolean>;
    /** Reconnect after a fatal close (e.g. 4010 unauthorized once a new token is available). */
    reconnect(): void;
    /**
     * @param {string} kind
     * @param {unknown} error
     */
    fail(kind: string, error: unknown): void;
    shutdown(): void;
    /** Close the connection, release the lock (another tab takes over) and close the database. */
    close(): Promise<void>;
}

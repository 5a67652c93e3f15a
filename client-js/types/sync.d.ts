export type ServerMessage = import('./core/messages.js').ServerMessage;
export type Status = import('./core/state.js').Status;
export type Store = import('./store.js').Store;
export type StoredChange = import('./store.js').StoredChange;
export type SyncHost = {
    store: Store;
    clientId: string;
    o: Required<import('./client.js').SyncClientOptions>;
    setStatus: (s: Status) => void;
    /**
     * changes applied from the hub
     */
    remote: (changes: StoredChange[]) => void;
    emit: (type: string, detail: object) => void;
    /**
     * outbox entries were removed
     */
    acked: () => void;
    observe: (ver: bigint) => void;
    colls: () => string[];
};
export type Sub = {
    id: number;
    syncing: boolean;
    seen: Set<string>;
    done: number;
    ended?: boolean;
};
/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./core/state.js').Status} Status */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/**
 * @typedef {object} SyncHost what the engine needs from the client
 * @property {Store} store
 * @property {string} clientId
 * @property {Required<import('./client.js').SyncClientOptions>} o
 * @property {(s: Status) => void} setStatus
 * @property {(changes: StoredChange[]) => void} remote changes applied from the hub
 * @property {(type: string, detail: object) => void} emit
 * @property {() => void} acked outbox entries were removed
 * @property {(ver: bigint) => void} observe
 * @property {() => string[]} colls
 */
/** @typedef {{id: number, syncing: boolean, seen: Set<string>, done: number, ended?: boolean}} Sub */
export declare class Syncer {
    h: SyncHost;
    o: Required<import("./client.js").SyncClientOptions>;
    /** @type {import('./transport-ws.js').Socket | null} */
    sock: import('./transport-ws.js').Socket | null;
    gen: number;
    attempt: number;
    stopped: boolean;
    welcomed: boolean;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    retryTimer: ReturnType<typeof setTimeout> | undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    liveTimer: ReturnType<typeof setTimeout> | undefined;
    pingMs: number;
    maxBatch: number;
    maxFrame: number;
    /** @type {Map<string, Sub>} */
    subs: Map<string, Sub>;
    reqId: number;
    /** @type {{last: number, entries: import('./core/records.js').OutboxEntry[]}[]} batches awaiting their ack */
    inflight: {
        last: number;
        entries: import('./core/records.js').OutboxEntry[];
    }[];
    sentSeq: number;
    /** @type {Map<string, bigint>} per document (`docTag`): a version the store holds at least, from acks of this connection */
    known: Map<string, bigint>;
    pumping: boolean;
    pumpAgain: boolean;
    /** @type {ServerMessage[]} frames waiting to be applied */
    queue: ServerMessage[];
    running: boolean;
    /** @type {number | null} expiry (Unix s) of the token in force, when known */
    exp: number | null;
    refreshStep: number;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    refreshTimer: ReturnType<typeof setTimeout> | undefined;
    /** @type {Promise<boolean> | null} the `auth` awaiting its answer */
    authP: Promise<boolean> | null;
    /** @type {(ok: boolean) => void} */
    authDone: (ok: boolean) => void;
    /** @type {string[] | null} collections to subscribe again once a forced refresh is accepted */
    resub: string[] | null;
    /** @param {SyncHost} host */
    constructor(host: SyncHost);
    /** Start (or restart after a fatal close). */
    start(): void;
    /** Reconnect at once if disconnected; probe the socket if connected (tab woke up, network back). */
    kick(): void;
    /** The network went away: drop the socket now instead of waiting for timeouts. */
    drop(): void;
    stop(): void;
    connect(): Promise<void>;
    /** Liveness: no frame for `ms` closes the socket. @param {number} ms */
    arm(ms: number): void;
    /**
     * @param {number} gen
     * @param {number} code
     * @param {string} reason
     * @param {boolean} byClient
     */
    closed(gen: number, code: number, reason: string, byClient: boolean): void;
    /**
     * @param {number} gen
     * @param {ServerMessage} m
     */
    receive(gen: number, m: ServerMessage): void;
    /**
     * Apply queued frames one after another. Consecutive `chg` frames of one collection and
     * consecutive `ack` frames are merged so a burst costs one transaction, not one per frame.
     * @param {number} gen
     */
    drain(gen: number): Promise<void>;
    /** @param {ServerMessage} m */
    handle(m: ServerMessage): Promise<void>;
    /**
     * The changes that may alter the store: without the echoes of our own writes, those still in
     * flight (the ack brings the same version and document) and those whose version an ack of this
     * connection already stored (the store would ignore them after a read per document).
     * @param {string} coll
     * @param {import('./core/messages.js').Change[]} changes
     */
    fresh(coll: string, changes: import('./core/messages.js').Change[]): import("./core/messages.js").Change[];
    /**
     * A subscription refused or ended by the hub: stop waiting for it, report it.
     * @param {Sub} sub @param {string} kind @param {string} coll @param {number} code @param {string} message
     */
    end(sub: Sub, kind: string, coll: string, code: number, message: string): void;
    /** Plan the proactive refresh of a token expiring at `exp` (Unix s; null = never). @param {number | null} exp */
    plan(exp: number | null): void;
    retryRefresh(): void;
    /** (Re)arm the refresh timer for `at` (ms; 0 = none), in steps a timer can hold. @param {number} at */
    due(at: number): void;
    /**
     * Get a new token from the `token` function and send it in `auth` on the open socket.
     * @param {boolean} [forced] `refreshToken()`: collections the hub had ended are subscribed again once accepted
     * @returns {Promise<boolean>} true once the hub accepted it (`authed`)
     */
    refresh(forced?: boolean): Promise<boolean>;
    /** Answer the pending `auth`. @param {boolean} ok */
    settle(ok: boolean): void;
    /**
     * The subscription a page/synced belongs to; older subscription ids are stale.
     * @param {string} coll
     * @param {number} id
     */
    sub(coll: string, id: number): Sub | undefined;
    status(): void;
    /** @param {string} coll */
    subscribe(coll: string): Promise<void>;
    /** Send unsent outbox entries, a few batches at a time, in `seq` order. */
    pump(): Promise<void>;
}
/** @param {unknown} e */
export declare function isQuota(e: unknown): boolean;

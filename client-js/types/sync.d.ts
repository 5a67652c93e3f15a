export type ServerMessage = import('./core/messages.js').ServerMessage;
export type Status = import('./core/state.js').Status;
export type Store = import('./store.js').Store;
export type StoredChange = import('./store.js').StoredChange;
export type SyncEventMap = import('./types.js').SyncEventMap;
export type Emit = <K extends keyof SyncEventMap>(type: K, detail: SyncEventMap[K]) => void;
export type SyncHost = {
    store: Store;
    clientId: string;
    o: import('./client.js').Options;
    setStatus: (s: Status) => void;
    /**
     * changes applied from the hub
     */
    remote: (changes: StoredChange[]) => void;
    emit: Emit;
    /**
     * outbox entries were answered (final verdicts)
     */
    acked: (done: import('./types.js').WriteResult[]) => void;
    observe: (ver: bigint) => void;
    colls: () => string[];
    /**
     * every frame from the hub, awaited; truthy: taken (presence.js, subsets.js)
     */
    ext: (m: ServerMessage) => unknown;
};
/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./core/state.js').Status} Status */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/** @typedef {import('./types.js').SyncEventMap} SyncEventMap */
/** @typedef {<K extends keyof SyncEventMap>(type: K, detail: SyncEventMap[K]) => void} Emit */
/**
 * @typedef {object} SyncHost what the engine needs from the client
 * @property {Store} store
 * @property {string} clientId
 * @property {import('./client.js').Options} o
 * @property {(s: Status) => void} setStatus
 * @property {(changes: StoredChange[]) => void} remote changes applied from the hub
 * @property {Emit} emit
 * @property {(done: import('./types.js').WriteResult[]) => void} acked outbox entries were answered (final verdicts)
 * @property {(ver: bigint) => void} observe
 * @property {() => string[]} colls
 * @property {(m: ServerMessage) => unknown} ext every frame from the hub, awaited; truthy: taken (presence.js, subsets.js)
 */
export declare class Syncer {
    #private;
    h: SyncHost;
    o: import("./client.js").Options;
    /** @type {import('./transport-ws.js').Socket | null} */
    sock: import('./transport-ws.js').Socket | null;
    /** connection generation: bumped on connect and close, so late callbacks of an old socket do nothing */
    gen: number;
    stopped: boolean;
    welcomed: boolean;
    /** @type {number | null} expiry (Unix s) of the token in force, when known: from the token sent in `hello`, then from `authed` */
    exp: number | null;
    /** @param {SyncHost} host */
    constructor(host: SyncHost);
    /** Start (or restart after a fatal close). */
    start(): void;
    /** Collections whose subscription the hub ended on this connection. */
    ended(): string[];
    /** Reconnect at once if disconnected; probe the socket if connected (tab woke up, network back). */
    kick(): void;
    /** The network went away: drop the socket now instead of waiting for timeouts. */
    drop(): void;
    /** Stop until `start()`: close the socket now; nothing of this session runs on. @param {string} [reason] */
    stop(reason?: string): void;
    /**
     * Stop until `reconnect()`: report `err` and show `status`.
     * @param {import('./types.js').SyncError} err
     * @param {Status} status
     * @param {string} [reason] close reason for an open socket
     */
    halt(err: import('./types.js').SyncError, status: Status, reason?: string): void;
    /**
     * `refreshToken()`: a new token now, without reconnecting.
     * @returns {Promise<boolean>} true once the hub accepted it
     */
    refreshToken(): Promise<boolean>;
    /** @param {string} coll */
    subscribe(coll: string): Promise<void>;
    /** Send what the outbox holds (a local write was queued). */
    pump(): void;
}

/**
 * The subscriptions of the connection the `Syncer` holds: `sub` requests, the snapshot or catch-up
 * run of each (`page`, `synced`, `resync`), live `chg` frames into the store, and the hub ending
 * one (`unsub`, an `error` naming its request). Like the outbox pump (`pump.js`), which filters
 * the echoes of in-flight writes here, it reads the session's state (`welcomed`, `sock`) live.
 */
export type ServerMessage = import('./core/messages.js').ServerMessage;
export type StoredChange = import('./store.js').StoredChange;
export type Session = {
    welcomed: boolean;
    sock: import('./transport-ws.js').Socket | null;
    h: {
        store: import('./store.js').Store;
        emit: import('./sync.js').Emit;
        remote: (changes: StoredChange[]) => void;
        observe: (ver: bigint) => void;
    };
};
export type Sub = {
    id: number;
    syncing: boolean;
    seen: Set<string>;
    done: number;
    ended?: boolean;
    resume?: boolean | 2;
};
/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/**
 * @typedef {object} Session the connection the subscriptions belong to (the `Syncer`), read live
 * @property {boolean} welcomed
 * @property {import('./transport-ws.js').Socket | null} sock
 * @property {object} h
 * @property {import('./store.js').Store} h.store
 * @property {import('./sync.js').Emit} h.emit
 * @property {(changes: StoredChange[]) => void} h.remote changes applied from the hub
 * @property {(ver: bigint) => void} h.observe
 */
/**
 * @typedef {{id: number, syncing: boolean, seen: Set<string>, done: number, ended?: boolean, resume?: boolean | 2}} Sub
 * `resume`: page cursors may be stored as the collection's cursor (a catch-up, or a snapshot into a
 * collection held nothing of: a reset over held documents needs the whole snapshot); `2`: the
 * collection held nothing when this sync started, so its pages add documents without reading them
 * first (a `resync` sets a boolean: the documents of the pages before it are held)
 */
export declare class Subscriptions {
    #private;
    s: Session;
    h: {
        store: import('./store.js').Store;
        emit: import('./sync.js').Emit;
        remote: (changes: StoredChange[]) => void;
        observe: (ver: bigint) => void;
    };
    out: import("./pump.js").OutboxPump;
    status: () => void;
    /**
     * @param {Session} s
     * @param {import('./pump.js').OutboxPump} out tells the echoes of in-flight writes
     * @param {() => void} status called when a subscription started or stopped syncing
     */
    constructor(s: Session, out: import('./pump.js').OutboxPump, status: () => void);
    /** How many subscriptions are syncing (snapshot or catch-up not finished). */
    syncing(): number;
    /** Collections whose subscription the hub ended on this connection. */
    ended(): string[];
    /** The connection is gone: every collection is subscribed again on the next one. */
    clear(): void;
    /** @param {string} coll */
    subscribe(coll: string): Promise<void>;
    /** Subscribe again to those of `colls` the hub had ended (a forced refresh was accepted). @param {Iterable<string>} colls */
    resubscribe(colls: Iterable<string>): void;
    /** @param {Extract<ServerMessage, {t: 'resync'}>} m */
    resync(m: Extract<ServerMessage, {
        t: 'resync';
    }>): void;
    /** @param {Extract<ServerMessage, {t: 'page'}>} m */
    page(m: Extract<ServerMessage, {
        t: 'page';
    }>): Promise<void>;
    /** @param {Extract<ServerMessage, {t: 'synced'}>} m */
    synced(m: Extract<ServerMessage, {
        t: 'synced';
    }>): Promise<void>;
    /**
     * Live changes; ignored for a collection not subscribed on this connection (a hub sends none).
     * @param {Extract<ServerMessage, {t: 'chg'}>} m
     */
    chg(m: Extract<ServerMessage, {
        t: 'chg';
    }>): Promise<void>;
    /**
     * The hub ended a subscription (4403: no longer readable after a refresh). Local documents and
     * pending writes stay; not re-subscribed on this connection until a forced refresh
     * (`refreshToken()`) is accepted.
     * @param {Extract<ServerMessage, {t: 'unsub'}>} m
     */
    unsub(m: Extract<ServerMessage, {
        t: 'unsub';
    }>): void;
    /**
     * An `error` that answers a `sub` request ends that subscription.
     * @param {Extract<ServerMessage, {t: 'error'}>} m
     * @returns {boolean} true if it did
     */
    refused(m: Extract<ServerMessage, {
        t: 'error';
    }>): boolean;
}

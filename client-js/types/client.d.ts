import { Collection } from './collection.js';
export type Doc = import('./types.js').Doc;
export type Status = import('./types.js').Status;
export type Change = import('./types.js').Change;
export type SyncClientOptions = import('./types.js').SyncClientOptions;
export type SyncEventMap = import('./types.js').SyncEventMap;
export type WriteResult = import('./types.js').WriteResult;
export type WriteHandle = import('./types.js').WriteHandle;
export type PendingWrite = import('./types.js').PendingWrite;
export type SyncError = import('./types.js').SyncError;
export type StoredChange = import('./store.js').StoredChange;
export type Store = import('./store.js').Store;
export type Options = Required<Omit<SyncClientOptions, 'env'>> & Required<import('./types.js').Env>;
export type Listener<K extends keyof SyncEventMap> = ((ev: CustomEvent<SyncEventMap[K]>) => void) | EventListenerObject | null;
export type SyncEventTarget = Omit<EventTarget, 'addEventListener' | 'removeEventListener'> & {
    addEventListener<K extends keyof SyncEventMap>(type: K, listener: Listener<K>, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof SyncEventMap>(type: K, listener: Listener<K>, options?: boolean | EventListenerOptions): void;
};
declare const SyncClient_base: new () => SyncEventTarget;
/**
 * Fires `status`, `conflict`, `resync`, `error` and `progress` events (`CustomEvent`, payload in
 * `detail`; `SyncEventMap` types each).
 */
export declare class SyncClient extends /** @type {new () => SyncEventTarget} */ /** @type {new () => SyncEventTarget} */ SyncClient_base {
    /** @type {Status} */
    status: Status;
    /** Holds the connection for this database (false in follower tabs). */
    leader: boolean;
    /** @param {SyncClientOptions} options */
    constructor(options: SyncClientOptions);
    /**
     * The collection named `name`; it is subscribed on the hub from now on. `T` types its documents
     * (not checked at run time).
     * @template {object} [T=Doc]
     * @param {string} name
     * @returns {Collection<T>}
     */
    collection<T extends object = Doc>(name: string): Collection<T>;
    /**
     * Outbox entries not acknowledged yet (persisted: survives reloads), oldest first.
     * @returns {Promise<PendingWrite[]>}
     */
    pendingWrites(): Promise<PendingWrite[]>;
    /** Number of outbox entries not acknowledged yet. @returns {Promise<number>} */
    pendingCount(): Promise<number>;
    /**
     * Resolves when the outbox is empty (every write acknowledged by the hub). Rejects when sync is
     * stopped (`close()`, a fatal error, `unauthorized`: `UnauthorizedError`), also when it stops
     * while this call waits.
     * @returns {Promise<void>}
     */
    flush(): Promise<void>;
    /**
     * Call the `token` function now and hand the new token to the hub without reconnecting (e.g.
     * after the user's permissions changed). Collections the hub had ended are subscribed again
     * once it accepts. In a follower tab the request goes to the leader tab.
     * @returns {Promise<boolean>} true when the hub accepted the token; false when it refused it,
     *   the client is not connected (it reconnects at once, asking the `token` function), the
     *   `token` option is not a function, or this tab is a follower
     */
    refreshToken(): Promise<boolean>;
    /**
     * Resume after a fatal stop (`unauthorized` once the user signed in again, `closed`,
     * `user-mismatch`); otherwise reconnect at once if disconnected. In a follower tab the request
     * goes to the leader tab.
     */
    reconnect(): void;
    /** Close the connection, release the lock (another tab takes over) and close the database. */
    close(): Promise<void>;
}
export {};

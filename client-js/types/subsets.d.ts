/**
 * Query subscriptions (partial sync) on the client's own connection (docs/client.md "Partial sync",
 * docs/protocol.md "Query subscriptions"). Part of `synchub-client/query`:
 *
 *   const todos = subset(client, 'todos')          // this collection syncs only its subscriptions
 *   const open = query(todos).where({ team: 'x', done: false }).sync()
 *   open.addEventListener('progress', (e) => show(e.detail.done))
 *   await open.ready                               // the first `qsynced`
 *   const room = syncNamed(todos, 'room_messages', { room: 'R' })
 *   open.end()                                     // drops what no other subscription holds
 *
 * Each subscription is known by its key (collection and filter, or name and parameters) and keeps,
 * in the database, its cursor and the documents it holds (`subset-store.js`): after a reload or a
 * reconnect it resumes with a catch-up from that cursor. The hub's frames reach this module through
 * `client.ext` (taken: the core does not see them); `sub` ids are negative, so they never meet the
 * core's whole-collection ids (in `error.ref`, `unsub`).
 *
 * Like rooms, subscriptions are served by the tab holding the connection (the leader tab); in
 * another tab they wait until it leads. Local queries over the subset work in every tab, offline too.
 */
import { Collection } from './collection.js';
export type SyncClient = import('./client.js').SyncClient;
export type SyncError = import('./types.js').SyncError;
export type Cursor = import('./core/cursor.js').Cursor;
export type Change = import('./core/messages.js').Change;
export type Def = {
    filter: [string, string, unknown][];
} | {
    name: string;
    params: Record<string, unknown>;
};
export type Sub = {
    key: string;
    coll: string;
    def: Def;
    handles: Set<Subset>;
    /**
     * its `sub` id on this connection (0: not sent)
     */
    id: number;
    /**
     * the subset's live stream, from `qsynced`
     */
    q: string | null;
    syncing: boolean;
    /**
     * page cursors may be stored (a catch-up, or a first sync: not a snapshot over held documents)
     */
    resume: boolean;
    /**
     * ids sent by this sync (for a `reset`)
     */
    seen: Set<string>;
    done: number;
};
export type SubsetEventMap = {
    /**
     * documents received by the current sync; `synced` at its end
     */
    progress: {
        done: number;
        synced: boolean;
    };
    /**
     * a sync is complete (the first one resolves `ready`)
     */
    synced: {
        mode: string;
        reset: boolean;
    };
    /**
     * the hub restarts the sync (`qresync`)
     */
    resync: {
        reason: string;
        mode: string;
    };
    /**
     * the hub refused or ended the subscription (`kind` 'sub' or 'unsub'; 4422: the filter)
     */
    error: SyncError;
};
export type Listener<K extends keyof SubsetEventMap> = ((ev: CustomEvent<SubsetEventMap[K]>) => void) | EventListenerObject | null;
export type SubsetEventTarget = Omit<EventTarget, 'addEventListener' | 'removeEventListener'> & {
    addEventListener<K extends keyof SubsetEventMap>(type: K, listener: Listener<K>, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof SubsetEventMap>(type: K, listener: Listener<K>, options?: boolean | EventListenerOptions): void;
};
/**
 * The collection `name` of `client`, synced only through its query subscriptions: unlike
 * `client.collection(name)` it is not subscribed whole on the hub. When the app also calls
 * `client.collection(name)`, that one is returned (the whole collection is synced; removals from a
 * subset then never drop its documents).
 * @template {object} [T=import('./types.js').Doc]
 * @param {SyncClient} client
 * @param {string} name
 * @returns {Collection<T>}
 */
export declare function subset<T extends object = import('./types.js').Doc>(client: SyncClient, name: string): Collection<T>;
/**
 * Sync the named subscription `name` (defined in the hub's config) of `collection` with `params`.
 * @template {object} T
 * @param {Collection<T>} collection
 * @param {string} name
 * @param {Record<string, unknown>} [params]
 * @returns {Subset}
 */
export declare function syncNamed<T extends object>(collection: Collection<T>, name: string, params?: Record<string, unknown>): Subset;
/**
 * Sync the subset of `collection` whose documents pass all of `where` (each `[field, op, value]`).
 * `query(c).where(...).sync()` calls this.
 * @param {Collection<any>} collection
 * @param {[string, string, unknown][]} where
 * @returns {Subset}
 */
export declare function syncFilter(collection: Collection<any>, where: [string, string, unknown][]): Subset;
declare const Subset_base: new () => SubsetEventTarget;
/**
 * One query subscription, as the app holds it. Events (`CustomEvent`, `SubsetEventMap`):
 * `progress`, `synced`, `resync`, `error`.
 */
export declare class Subset extends /** @type {new () => SubsetEventTarget} */ /** @type {new () => SubsetEventTarget} */ Subset_base {
    e: Engine;
    sub: Sub;
    /** Resolves at the end of the first sync (`qsynced`); rejects with the `SyncError` of a refused subscription. @type {Promise<void>} */
    ready: Promise<void>;
    /** The first sync completed. */
    synced: boolean;
    /** @type {SyncError | null} why the hub refused or ended it (it is then no longer synced) */
    error: SyncError | null;
    /** The collection's name. */
    get coll(): string;
    /**
     * Stop syncing (on this client object), keeping the documents and the cursor: a later `sync()`
     * of the same subset resumes with a catch-up.
     */
    close(): Promise<void>;
    /**
     * End the subscription: stop syncing it and remove the documents no other subscription holds
     * (those with pending writes stay until acknowledged); its cursor is forgotten. Resolves once the
     * database is updated. A subset still held by another handle of the same filter stays.
     * @returns {Promise<void>}
     */
    end(): Promise<void>;
}
declare class Engine {
    c: import("./client.js").SyncClient;
    /** @type {Map<string, Sub>} by key */
    subs: Map<string, Sub>;
    /** @type {Map<number, Sub>} by `sub` id, on this connection */
    ids: Map<number, Sub>;
    /** @type {Map<string, Collection<any>>} collections of `subset()` */
    colls: Map<string, Collection<any>>;
    n: number;
    /**
     * @type {boolean | null} the hub serves query subscriptions (`welcome.features`); null: not known
     * (made on a live connection, its `welcome` unseen): `sub` is sent, the next `welcome` tells
     */
    served: boolean | null;
    /** @param {SyncClient} client */
    constructor(client: SyncClient);
    /** @param {string} coll @param {Def} def */
    open(coll: string, def: Def): Subset;
    /**
     * Send `sub` for `sub` (with its stored cursor) when connected.
     * @param {Sub} sub @param {boolean} [welcome] called while `welcome` is handled (not `welcomed` yet)
     */
    start(sub: Sub, welcome?: boolean): Promise<void>;
    /**
     * A frame from the hub; truthy when it is ours (a promise: the core waits for it).
     * @param {any} m
     */
    on(m: any): true | Promise<boolean> | undefined;
    /** @param {Sub} sub @param {any} m qpage, qsynced or qresync */
    step(sub: Sub, m: any): Promise<boolean>;
    /** Live changes of the subset `m.q`, for every subscription of it. @param {any} m */
    chg(m: any): Promise<boolean>;
    /**
     * Check the fields the core's decoder leaves to this module (it checked `changes`); a bad frame
     * closes the connection as one the decoder refuses would (4001), and is not applied.
     * @param {any} m
     */
    valid(m: any): boolean;
    /** @param {bigint} ver */
    observe(ver: bigint): void;
    /**
     * The hub refused or ended `sub`: it is no longer synced (not even after a reconnect); its
     * documents stay until `end()`.
     * @param {Sub} sub @param {SyncError} err
     */
    fail(sub: Sub, err: SyncError): void;
    /**
     * A handle closes (`end`: and ends); the subscription stops with its last handle.
     * @param {Subset} h @param {boolean} end
     */
    detach(h: Subset, end: boolean): Promise<void>;
    /** Writes were acknowledged: documents that left every subscription while pending go now. @param {import('./types.js').WriteResult[]} done */
    acked(done: import('./types.js').WriteResult[]): Promise<void>;
}
export {};

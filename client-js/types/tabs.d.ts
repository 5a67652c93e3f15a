/**
 * Tab coordination: one tab per database holds the connection (Web Locks), every tab hears
 * every change (BroadcastChannel). Both are injected; without locks every tab connects on its
 * own (the hub's dedup keeps replays exactly-once), without BroadcastChannel there is no fan-out.
 */
export type LockManagerLike = {
    request: (name: string, options: {
        signal?: AbortSignal;
    }, cb: () => Promise<void>) => Promise<unknown>;
};
/**
 * @typedef {{request: (name: string, options: {signal?: AbortSignal}, cb: () => Promise<void>) => Promise<unknown>}} LockManagerLike
 */
export declare class Tabs {
    locks: LockManagerLike | null;
    name: string;
    abort: AbortController;
    /** @type {(() => void) | undefined} */
    release: (() => void) | undefined;
    channel: BroadcastChannel | null;
    /**
     * @param {string} name lock and channel name
     * @param {LockManagerLike | null} locks
     * @param {(typeof BroadcastChannel) | null} BC
     * @param {(msg: any) => void} onMessage
     */
    constructor(name: string, locks: LockManagerLike | null, BC: (typeof BroadcastChannel) | null, onMessage: (msg: any) => void);
    /**
     * Call `onLead` once this tab holds the connection lock (at once without locks).
     * @param {() => void} onLead
     */
    lead(onLead: () => void): void;
    /** @param {object} msg */
    post(msg: object): void;
    close(): void;
}

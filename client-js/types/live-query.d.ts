export type Prepared = import('./core/plan.js').Prepared;
export type DocRecord = import('./core/records.js').DocRecord;
export type Snapshot<T extends object = import('./types.js').Doc> = {
    /**
     * the result (empty while `loading`); the same array while it is unchanged
     */
    docs: import('./types.js').WithId<T>[];
    /**
     * some document of `docs` has local writes the hub has not acknowledged yet (Firestore's `hasPendingWrites`)
     */
    pending: boolean;
    /**
     * the client is not `live` (offline, connecting, catching up): the hub may hold newer documents
     */
    fromCache: boolean;
    /**
     * no result yet
     */
    loading: boolean;
    /**
     * why the last evaluation failed (`docs` stays the previous result); null when it did not
     */
    error: unknown;
};
export type SnapshotMeta = {
    pending: boolean;
    fromCache: boolean;
};
/** @template {object} [T=import('./types.js').Doc] */
export declare class LiveQuery<T extends object = import('./types.js').Doc> {
    #private;
    /** The current result; the same object until it changed. */
    getSnapshot: () => Snapshot<T>;
    /**
     * Call `cb` after every change of the snapshot (read it with `getSnapshot()`).
     * @param {() => void} cb
     * @returns {() => void} unsubscribe
     */
    subscribe: (cb: () => void) => () => void;
    /** Stop following changes (callbacks are not called any more). */
    close(): void;
}

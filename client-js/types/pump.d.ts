export type OutboxEntry = import('./core/records.js').OutboxEntry;
export type AckResult = import('./core/records.js').AckResult;
export type StoredChange = import('./store.js').StoredChange;
export type Session = {
    /**
     * connection generation; a change ends a run
     */
    gen: number;
    welcomed: boolean;
    sock: import('./transport-ws.js').Socket | null;
    o: import('./client.js').Options;
    h: {
        store: import('./store.js').Store;
        emit: import('./sync.js').Emit;
        remote: (changes: StoredChange[]) => void;
        acked: (done: import('./types.js').WriteResult[]) => void;
    };
};
/** @typedef {import('./core/records.js').OutboxEntry} OutboxEntry */
/** @typedef {import('./core/records.js').AckResult} AckResult */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/**
 * @typedef {object} Session the connection the pump works on (the `Syncer`), read live
 * @property {number} gen connection generation; a change ends a run
 * @property {boolean} welcomed
 * @property {import('./transport-ws.js').Socket | null} sock
 * @property {import('./client.js').Options} o
 * @property {object} h
 * @property {import('./store.js').Store} h.store
 * @property {import('./sync.js').Emit} h.emit
 * @property {(changes: StoredChange[]) => void} h.remote
 * @property {(done: import('./types.js').WriteResult[]) => void} h.acked outbox entries were answered (final verdicts)
 */
export declare class OutboxPump {
    #private;
    s: Session;
    /** @param {Session} s */
    constructor(s: Session);
    /** The limits of a new connection (`welcome`). @param {number} maxBatch @param {number} maxFrame */
    limits(maxBatch: number, maxFrame: number): void;
    /** The connection is gone: everything unacknowledged is sent again on the next one. */
    reset(): void;
    /** Forget the versions acks stored (a reset sync may delete those documents). */
    forget(): void;
    /** Send unsent outbox entries, a few batches at a time, in `seq` order. */
    run(): Promise<void>;
    /**
     * Apply the results of an `ack` (one or several merged): store them, report conflicts and
     * failures, then send more. A refusal to retry (4500-4999) leaves its entry and document as
     * they are: reported (`retry: true`), sent again on the next connection. Only the first result
     * for an entry in flight on this connection counts: a hub acknowledges what it was sent, once,
     * and anything else would drop a write it never received or apply one twice.
     * @param {AckResult[]} all
     */
    ack(all: AckResult[]): Promise<void>;
    /**
     * The changes that may alter the store: without the echoes of our own writes, those still in
     * flight (the ack brings the same version and document) and those whose version an ack of this
     * connection already stored (the store would ignore them after a read per document).
     * @param {string} coll
     * @param {import('./core/messages.js').Change[]} changes
     */
    fresh(coll: string, changes: import('./core/messages.js').Change[]): import("./core/messages.js").Change[];
}

/**
 * Outbox ordering: which entries go out next. Pure functions.
 * @typedef {import('./records.js').OutboxEntry} OutboxEntry
 */
export type OutboxEntry = import('./records.js').OutboxEntry;
/**
 * Pick the next batch from outbox entries in `seq` order that were not sent on this connection.
 * Stops before a dependent entry (its base is known only once the earlier write of the same
 * document is acknowledged), unless it is the oldest entry left in the outbox.
 * @param {OutboxEntry[]} entries unsent entries, ascending `seq`
 * @param {number} max largest batch
 * @param {boolean} first the first entry is the oldest in the outbox (nothing in flight)
 * @returns {OutboxEntry[]}
 */
export declare function planBatch(entries: OutboxEntry[], max: number, first: boolean): OutboxEntry[];
/**
 * The wire form of an outbox entry.
 * @param {OutboxEntry} e
 */
export declare function toMutation(e: OutboxEntry): {
    seq: number;
    coll: string;
    id: string;
    op: "del" | "put";
    doc: import("./records.js").Doc | null;
    ts: bigint;
    base: bigint;
};
/**
 * How many batches may be sent now.
 * @param {number} inFlight batches awaiting their ack
 * @param {number} limit most batches in flight at once
 */
export declare function freeSlots(inFlight: number, limit: number): number;

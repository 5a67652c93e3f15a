/**
 * Outbox ordering: which entries go out next. Pure functions.
 * @typedef {import('./records.js').OutboxEntry} OutboxEntry
 */

/**
 * Pick the next batch from outbox entries in `seq` order that were not sent on this connection.
 * Stops before a dependent entry (its base is known only once the earlier write of the same
 * document is acknowledged), unless it is the oldest entry left in the outbox.
 * @param {OutboxEntry[]} entries unsent entries, ascending `seq`
 * @param {number} max largest batch
 * @param {boolean} first the first entry is the oldest in the outbox (nothing in flight)
 * @returns {OutboxEntry[]}
 */
export function planBatch(entries, max, first) {
  const out = []
  for (const e of entries) {
    if (out.length >= max) break
    if (e.dep && !(first && out.length === 0)) break
    out.push(e)
  }
  return out
}

/**
 * The wire form of an outbox entry.
 * @param {OutboxEntry} e
 */
export function toMutation(e) {
  return { seq: e.seq, coll: e.c, id: e.id, op: e.op, doc: e.doc, ts: e.ts, base: e.base }
}

/**
 * How many batches may be sent now.
 * @param {number} inFlight batches awaiting their ack
 * @param {number} limit most batches in flight at once
 */
export function freeSlots(inFlight, limit) {
  return Math.max(limit - inFlight, 0)
}

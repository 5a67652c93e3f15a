/**
 * The outbox pump of the connection the `Syncer` holds: sends unsent outbox entries as `mut`
 * batches (in `seq` order, at most `maxInFlight` batches unacknowledged, each halved until it
 * fits a frame), applies the hub's acks to the store and tells the echoes of its own writes
 * from the changes that may alter the store. What to send next is decided by the pure
 * functions of `core/outbox-logic.js`.
 */
import { planBatch, toMutation, freeSlots } from './core/outbox-logic.js'
import { sameDoc } from './core/records.js'
import { docTag } from './core/keys.js'
import { retryLater, storeError, syncError } from './core/errors.js'

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

export class OutboxPump {
  /** largest batch, from `welcome` */
  #maxBatch = 1
  /** largest frame, from `welcome` and our decoder limit */
  #maxFrame
  /** @type {{entries: OutboxEntry[]}[]} batches awaiting their ack (entries not answered yet) */
  #inflight = []
  /** last `seq` sent on this connection */
  #sentSeq = 0
  /** @type {Map<string, bigint>} per document (`docTag`): a version the store holds at least, from acks of this connection */
  #known = new Map()
  #pumping = false
  #pumpAgain = false
  /** seqs the hub answered "retry later" (4500-4999, e.g. 4504: collection not served by this hub): kept in the outbox, sent again on the next connection */
  #held = new Set()

  /** @param {Session} s */
  constructor(s) {
    this.s = s
    this.#maxFrame = s.o.limits.maxFrame
  }

  /** The limits of a new connection (`welcome`). @param {number} maxBatch @param {number} maxFrame */
  limits(maxBatch, maxFrame) {
    this.#maxBatch = maxBatch
    this.#maxFrame = Math.min(maxFrame || Infinity, this.s.o.limits.maxFrame)
  }

  /** The connection is gone: everything unacknowledged is sent again on the next one. */
  reset() {
    this.#inflight = []
    this.#sentSeq = 0
    this.#known.clear()
    this.#held.clear()
  }

  /** Forget the versions acks stored (a reset sync may delete those documents). */
  forget() {
    this.#known.clear()
  }

  /** Send unsent outbox entries, a few batches at a time, in `seq` order. */
  async run() {
    const s = this.s
    if (!s.welcomed || this.#pumping) {
      this.#pumpAgain = s.welcomed
      return
    }
    this.#pumping = true
    const gen = s.gen
    try {
      while (freeSlots(this.#inflight.length, s.o.maxInFlight) > 0) {
        const entries = await s.h.store.readOutbox(this.#sentSeq, this.#maxBatch)
        if (gen !== s.gen || !s.sock) return
        // a held entry is older than any unsent one: a dependent write must wait for it
        let batch = planBatch(entries, this.#maxBatch, this.#inflight.length === 0 && !this.#held.size)
        if (!batch.length) break
        let frame = s.sock.encode({ t: 'mut', batch: batch.map(toMutation) })
        while (frame.byteLength > this.#maxFrame - 64 && batch.length > 1) {
          batch = batch.slice(0, batch.length >> 1)
          frame = s.sock.encode({ t: 'mut', batch: batch.map(toMutation) })
        }
        s.sock.sendBytes(frame)
        this.#inflight.push({ entries: batch })
        this.#sentSeq = batch[batch.length - 1].seq
      }
    } catch (e) {
      if (gen === s.gen) {
        s.h.emit('error', storeError(e, true))
        s.sock?.close(1000, 'store error')
      }
    } finally {
      this.#pumping = false
      if (this.#pumpAgain) {
        this.#pumpAgain = false
        this.run()
      }
    }
  }

  /**
   * Apply the results of an `ack` (one or several merged): store them, report conflicts and
   * failures, then send more. A refusal to retry (4500-4999) leaves its entry and document as
   * they are: reported (`retry: true`), sent again on the next connection. Only the first result
   * for an entry in flight on this connection counts: a hub acknowledges what it was sent, once,
   * and anything else would drop a write it never received or apply one twice.
   * @param {AckResult[]} all
   */
  async ack(all) {
    const h = this.s.h
    /** @type {Map<number, OutboxEntry>} */
    const open = new Map()
    for (const b of this.#inflight) for (const e of b.entries) open.set(e.seq, e)
    /** @type {Map<number, OutboxEntry>} the entries these results answer */
    const sent = new Map()
    const mine = all.filter((r) => open.has(r.seq) && !sent.has(r.seq) && sent.set(r.seq, /** @type {OutboxEntry} */ (open.get(r.seq))))
    const results = mine.filter((r) => !retryLater(r))
    const a = await h.store.applyAcks(results, sent)
    // a batch is done once each of its entries is answered
    for (const b of this.#inflight) b.entries = b.entries.filter((e) => !sent.has(e.seq))
    this.#inflight = this.#inflight.filter((b) => b.entries.length)
    if (this.#known.size > 1e5) this.#known.clear()
    for (const r of results) {
      const e = sent.get(r.seq)
      if (e && r.s !== 'error') this.#known.set(docTag(e.c, e.id), r.ver)
    }
    h.remote(a.changes)
    for (const c of a.conflicts) h.emit('conflict', c)
    for (const f of a.failed) h.emit('error', f)
    for (const r of mine.filter(retryLater)) {
      const e = /** @type {OutboxEntry} */ (sent.get(r.seq))
      this.#held.add(r.seq)
      h.emit('error', syncError('mutation', r.code ?? 0, r.msg ?? '', true, { seq: r.seq, coll: e.c, id: e.id, local: /** @type {any} */ (e.doc) }))
    }
    h.acked(a.done)
    this.run()
  }

  /**
   * The changes that may alter the store: without the echoes of our own writes, those still in
   * flight (the ack brings the same version and document) and those whose version an ack of this
   * connection already stored (the store would ignore them after a read per document).
   * @param {string} coll
   * @param {import('./core/messages.js').Change[]} changes
   */
  fresh(coll, changes) {
    // in-flight entries of `coll`, by id (one collection: the id alone names the document)
    /** @type {Map<string, OutboxEntry>} */
    const mine = new Map()
    for (const b of this.#inflight) for (const e of b.entries) if (e.c === coll) mine.set(e.id, e)
    return changes.filter(([id, ver, doc]) => {
      const e = mine.get(id)
      const k = this.#known.get(docTag(coll, id))
      return !(e && sameDoc(e.doc, doc)) && !(k !== undefined && ver <= k)
    })
  }
}

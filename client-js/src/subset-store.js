/**
 * What query subscriptions (`subsets.js`) keep in the client database, beside the documents:
 * in `meta` (out-of-line keys, arrays: they sort after the core's string keys and never meet them)
 *
 *   ['qh', coll, id] → the keys of the subscriptions holding that document (string[]); [] marks a
 *                       document that left every subscription while it had pending writes: it is
 *                       dropped once they are acknowledged (`settleLeft`)
 *   ['qs', key]      → {cursor} of one subscription (its key: collection and filter, `subsets.js`)
 *
 * Every change to documents commits in the same transaction as the holders and the cursor that go
 * with it, as the core does for whole collections (`store.js`): a reload resumes exactly there.
 * A document is dropped when no subscription holds it any more, unless it has pending writes or
 * its whole collection is synced too (`whole`).
 */
import { req } from './store.js'
import { remoteChange } from './core/records.js'
import { mergeCursor } from './core/cursor.js'
import { DOCS, META, docKey } from './core/keys.js'

/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/** @typedef {import('./core/messages.js').Change} Change */
/** @typedef {import('./core/cursor.js').Cursor} Cursor */

/** @param {string} c @param {string} id */
const holdKey = (c, id) => ['qh', c, id]
/** @param {string} key */
const stateKey = (key) => ['qs', key]
/** @param {string} c the holder entries of collection `c` */
const holdRange = (c) => IDBKeyRange.bound(['qh', c], ['qh', c, []])

/**
 * The holders and the record of a document.
 * @param {IDBTransaction} tx @param {string} c @param {string} id
 * @returns {Promise<[string[] | undefined, DocRecord | undefined]>}
 */
function read(tx, c, id) {
  const p = Promise.all([req(tx.objectStore(META).get(holdKey(c, id))), req(tx.objectStore(DOCS).get(docKey(c, id)))])
  // a failure aborts the transaction anyway: reads never awaited must not surface as unhandled
  p.catch(() => {})
  return /** @type {any} */ (p)
}

/**
 * Record that `id` is held by `h` (the keys left); with none, drop the document unless it has
 * pending writes (then mark it, `[]`) or its collection is synced whole. Also when the client
 * holds a version above the removal's (its own write, acknowledged first): if that version is in
 * a subset, its subscription's stream sends it after the removal (streams are in version order)
 * and it comes back; if not, dropping it is right.
 * @param {IDBTransaction} tx @param {Store} store @param {string} c @param {string} id
 * @param {string[]} h @param {boolean} whole @param {StoredChange[]} out
 * @param {DocRecord | undefined} [rec] the record, when already read
 */
async function hold(tx, store, c, id, h, whole, out, rec) {
  const meta = tx.objectStore(META)
  const docs = tx.objectStore(DOCS)
  if (h.length) return meta.put(h, holdKey(c, id))
  if (!whole) {
    rec ??= await req(docs.get(docKey(c, id)))
    if (rec?.pend) return meta.put([], holdKey(c, id))
    if (rec) {
      docs.delete(docKey(c, id))
      if (rec.doc) out.push({ type: 'delete', coll: c, id, doc: null })
    }
  }
  meta.delete(holdKey(c, id))
}

/**
 * Apply changes of the subscriptions `keys` (one `qpage`, or a `qchg` of the subset they share):
 * a document enters or changes (held by `keys` from now on), or `[id, ver, null]`, a removal from
 * them; `cursor`, when given, becomes the cursor of `cursorKeys`.
 * @param {Store} store @param {string} c @param {string[]} keys @param {Change[]} changes
 * @param {Cursor | null} cursor @param {string[]} cursorKeys @param {boolean} whole
 * @returns {Promise<StoredChange[]>} the changes visible to the app
 */
export function applySubset(store, c, keys, changes, cursor, cursorKeys, whole) {
  return store.run([DOCS, META], 'readwrite', async (tx) => {
    const docs = tx.objectStore(DOCS)
    const meta = tx.objectStore(META)
    /** @type {StoredChange[]} */
    const out = []
    // the reads of each document's first change are issued at once (a page of 1,000 documents is
    // one round of reads, not 2,000 in a row); a document repeated in the batch is read again
    // when it comes, after the writes of its earlier change
    const seen = new Set()
    const ahead = changes.map(([id]) => !seen.has(id) && seen.add(id) && read(tx, c, id))
    for (let i = 0; i < changes.length; i++) {
      const [id, ver, doc] = changes[i]
      const [h, rec] = await (ahead[i] || read(tx, c, id))
      const held = h || []
      if (doc) {
        meta.put([...new Set([...held, ...keys])], holdKey(c, id))
        const r = remoteChange(rec, c, id, ver, doc)
        if (!r) continue
        docs.put(store.x(r.rec))
        if (r.visible) out.push({ type: 'put', coll: c, id, doc: r.rec.doc })
      } else if (rec || held.length) {
        await hold(tx, store, c, id, held.filter((k) => !keys.includes(k)), whole, out, rec)
      }
    }
    if (cursor) for (const k of cursorKeys) meta.put({ cursor: mergeCursor((await req(meta.get(stateKey(k))))?.cursor, cursor) }, stateKey(k))
    return out
  })
}

/**
 * A sync of subscription `key` is complete: store its cursor; with `reset`, release the documents
 * it held that the sync did not send (`seen`).
 * @param {Store} store @param {string} c @param {string} key @param {Cursor} cursor
 * @param {boolean} reset @param {Set<string>} seen @param {boolean} whole
 * @returns {Promise<StoredChange[]>}
 */
export function finishSubset(store, c, key, cursor, reset, seen, whole) {
  return store.run([DOCS, META], 'readwrite', async (tx) => {
    const meta = tx.objectStore(META)
    const out = reset ? await release(tx, store, c, key, seen, whole) : []
    const old = reset ? null : (await req(meta.get(stateKey(key))))?.cursor
    meta.put({ cursor: mergeCursor(old, cursor) }, stateKey(key))
    return out
  })
}

/**
 * Subscription `key` ended: release every document it held, forget its cursor.
 * @param {Store} store @param {string} c @param {string} key @param {boolean} whole
 * @returns {Promise<StoredChange[]>}
 */
export function endSubset(store, c, key, whole) {
  return store.run([DOCS, META], 'readwrite', async (tx) => {
    const out = await release(tx, store, c, key, new Set(), whole)
    tx.objectStore(META).delete(stateKey(key))
    return out
  })
}

/**
 * Release the documents of `c` held by `key`, but those in `keep`.
 * @param {IDBTransaction} tx @param {Store} store @param {string} c @param {string} key
 * @param {Set<string>} keep @param {boolean} whole
 * @returns {Promise<StoredChange[]>}
 */
async function release(tx, store, c, key, keep, whole) {
  const meta = tx.objectStore(META)
  const [ks, hs] = await Promise.all([req(meta.getAllKeys(holdRange(c))), req(meta.getAll(holdRange(c)))])
  /** @type {StoredChange[]} */
  const out = []
  for (let i = 0; i < ks.length; i++) {
    const id = /** @type {string} */ (/** @type {unknown[]} */ (ks[i])[2])
    /** @type {string[]} */
    const h = hs[i]
    if (h.includes(key) && !keep.has(id)) await hold(tx, store, c, id, h.filter((k) => k !== key), whole, out)
  }
  return out
}

/**
 * The stored cursor of subscription `key` (null: none, a first sync).
 * @param {Store} store @param {string} key
 * @returns {Promise<Cursor | null>}
 */
export function subsetCursor(store, key) {
  return store.run([META], 'readonly', async (tx) => (await req(tx.objectStore(META).get(stateKey(key))))?.cursor ?? null)
}

/**
 * Writes were acknowledged: drop those of `docs` that had left every subscription while pending
 * (marked `[]`) and have no pending write left.
 * @param {Store} store @param {[string, string][]} pairs `[coll, id]`
 * @returns {Promise<StoredChange[]>}
 */
export function settleLeft(store, pairs) {
  return store.run([DOCS, META], 'readwrite', async (tx) => {
    /** @type {StoredChange[]} */
    const out = []
    for (const [c, id] of pairs) {
      const h = await req(tx.objectStore(META).get(holdKey(c, id)))
      if (h && !h.length) await hold(tx, store, c, id, [], false, out)
    }
    return out
  })
}

/**
 * How many documents of `c` each subscription holds (for tests and diagnostics).
 * @param {Store} store @param {string} c
 * @returns {Promise<Map<string, string[]>>} document id → keys of its holders
 */
export function holders(store, c) {
  return store.run([META], 'readonly', async (tx) => {
    const meta = tx.objectStore(META)
    const [ks, hs] = await Promise.all([req(meta.getAllKeys(holdRange(c))), req(meta.getAll(holdRange(c)))])
    return new Map(ks.map((k, i) => [/** @type {string} */ (/** @type {unknown[]} */ (k)[2]), hs[i]]))
  })
}

/**
 * Rules for one stored document: local writes, remote changes and acks. Pure functions.
 *
 * A record holds the local view (`doc`), the version of the server state the client knows
 * (`ver`, kept for deletes as a tombstone), the number of pending outbox entries (`pend`) and,
 * while `pend > 0`, the server's document at `ver` (`srv`), so the view can fall back to it.
 */

/** @typedef {{[field: string]: unknown}} Doc */
/**
 * @typedef {object} DocRecord
 * @property {string} c collection
 * @property {string} id document id
 * @property {Doc | null} doc local view (null = deleted)
 * @property {bigint} ver server version held (0n = none)
 * @property {number} pend pending outbox entries for this document
 * @property {Doc | null} srv server document at `ver` while `pend > 0`
 */
/**
 * @typedef {object} OutboxEntry
 * @property {number} seq
 * @property {string} c
 * @property {string} id
 * @property {'put' | 'del'} op
 * @property {Doc | null} doc
 * @property {bigint} ts
 * @property {bigint} base
 * @property {boolean} dep made on top of an earlier pending write of the same document; its
 *   base is filled in when that write is acknowledged, and it is not sent before
 */
/**
 * @typedef {'ok' | 'dup' | 'conflict' | 'rejected' | 'merged' | 'error'} ResultStatus
 * @typedef {object} AckResult
 * @property {number} seq
 * @property {ResultStatus} s
 * @property {bigint} ver
 * @property {Doc | null | undefined} doc present for conflict, rejected, merged (and maybe dup)
 * @property {number} [code]
 * @property {string} [msg]
 */

/**
 * Apply a local put or delete.
 * @param {DocRecord | undefined} rec current record
 * @param {string} c
 * @param {string} id
 * @param {Doc | null} doc new local view (null = delete)
 * @returns {{rec: DocRecord, base: bigint, dep: boolean}}
 */
export function localWrite(rec, c, id, doc) {
  const pend = rec ? rec.pend : 0
  return {
    rec: {
      c,
      id,
      doc,
      ver: rec ? rec.ver : 0n,
      pend: pend + 1,
      srv: pend > 0 && rec ? rec.srv : rec ? rec.doc : null,
    },
    base: rec ? rec.ver : 0n,
    dep: pend > 0,
  }
}

/**
 * Apply a change from the hub. Ignored unless `ver` is above the held version, or equal to it while
 * the hub had sent an absence at that version: under a row filter a document the user may not read
 * arrives as a tombstone with the document's version, and once the user may read it (new claims)
 * the resync brings it at that same version. With pending local writes the server state is
 * recorded but the local view is kept.
 * @param {DocRecord | undefined} rec
 * @param {string} c
 * @param {string} id
 * @param {bigint} ver
 * @param {Doc | null} doc
 * @returns {{rec: DocRecord, visible: boolean} | null} null when ignored; `visible` when the view changed
 */
export function remoteChange(rec, c, id, ver, doc) {
  if (rec && ver <= rec.ver && !(ver === rec.ver && doc !== null && (rec.pend > 0 ? rec.srv : rec.doc) === null)) return null
  if (rec && rec.pend > 0) return { rec: { ...rec, ver, srv: doc }, visible: false }
  return { rec: { c, id, doc, ver, pend: 0, srv: null }, visible: !!rec?.doc || !!doc }
}

/** @param {AckResult} r */
function carriesServerDoc(r) {
  return r.s === 'conflict' || r.s === 'rejected' || r.s === 'merged' || (r.s === 'dup' && r.doc !== undefined)
}

/**
 * Apply the hub's result for an outbox entry. Whatever the status, the entry is done.
 * When it was the last pending write of the document the view becomes the server state
 * (our own document for `ok`, the hub's document for conflict/rejected/merged, the previous
 * server document for `error`).
 * @param {DocRecord | undefined} rec
 * @param {OutboxEntry} entry
 * @param {AckResult} result
 * @returns {{rec: DocRecord, visible: boolean, conflict: boolean, nextBase: bigint}}
 *   `nextBase`: base for the next pending write of the same document
 */
export function ackWrite(rec, entry, result) {
  const cur = rec || { c: entry.c, id: entry.id, doc: null, ver: 0n, pend: 1, srv: null }
  let { ver, srv } = cur
  const conflict = carriesServerDoc(result)
  if (result.s !== 'error' && result.ver >= ver) {
    ver = result.ver
    srv = conflict ? result.doc ?? null : entry.doc
  }
  const pend = Math.max(cur.pend - 1, 0)
  const doc = pend > 0 ? cur.doc : srv
  const accepted = result.s === 'ok' || result.s === 'merged' || (result.s === 'dup' && !conflict)
  return {
    rec: { c: cur.c, id: cur.id, doc, ver, pend, srv: pend > 0 ? srv : null },
    visible: !sameDoc(doc, cur.doc),
    conflict,
    nextBase: accepted ? result.ver : entry.base,
  }
}

/**
 * Structural equality for documents (msgpack-compatible values).
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function sameDoc(a, b) {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || !a || !b) return false
  if (a instanceof Uint8Array || b instanceof Uint8Array || a instanceof Date || b instanceof Date) {
    return String(a) === String(b) && a.constructor === b.constructor
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  const ra = /** @type {Record<string, unknown>} */ (a)
  const rb = /** @type {Record<string, unknown>} */ (b)
  return ka.every((k) => Object.hasOwn(rb, k) && sameDoc(ra[k], rb[k]))
}

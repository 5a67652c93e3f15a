/**
 * Validation of decoded hub frames (protocol v1). Pure functions; they never touch the store.
 * A frame that fails here closes the socket (`ProtocolViolation.code`).
 */

import { DOC_LIMITS, OVERSIZE, docOver } from './limits.js'

/** @typedef {import('./records.js').Doc} Doc */
/** @typedef {import('./records.js').AckResult} AckResult */
/** @typedef {import('./cursor.js').Cursor} Cursor */
/** @typedef {[string, bigint, Doc | null]} Change */
/**
 * @typedef {{t: 'welcome', v: number, hub: string, ping_ms: number, max_batch: number, max_frame: number, user?: string | null, doc_limits: import('./limits.js').DocLimits, features?: unknown}
 *   | {t: 'page', coll: string, id: number, changes: Change[], done: number, total: number | null, cursor: Cursor | null}
 *   | {t: 'synced', coll: string, id: number, cursor: Cursor, mode: string, reset: boolean}
 *   | {t: 'resync', coll: string, reason: string, mode: string}
 *   | {t: 'chg', coll: string, changes: Change[], cursor: Cursor}
 *   | {t: 'ack', results: AckResult[]}
 *   | {t: 'error', code: number, msg: string, ref: number | null}
 *   | {t: 'authed', exp: number | null}
 *   | {t: 'unsub', coll: string, id: number, code: number, msg: string}
 *   | {t: 'ping' | 'pong', n: number}
 *   | {t: 'members' | 'joined' | 'updated' | 'left' | 'bcast' | 'rerror', room: string, [k: string]: unknown}
 *   | {t: 'qpage' | 'qsynced' | 'qchg' | 'qresync', changes: Change[], [k: string]: unknown}} ServerMessage
 *   query-subscription frames: their `changes` checked here (none: []), the rest by subsets.js
 */

/** A frame from the hub broke the protocol. `code` is the close code the client sends. */
export class ProtocolViolation extends Error {
  /**
   * @param {number} code 4000 bad frame, 4001 bad message, 4004 unknown type, 4009 too large
   * @param {string} message
   */
  constructor(code, message) {
    super(message)
    this.name = 'ProtocolViolation'
    this.code = code
  }
}

/** @param {string} msg @returns {never} */
function bad(msg) {
  throw new ProtocolViolation(4001, msg)
}

/** A msgpack map as decoded: a plain object (not a list, binary, timestamp or extension value). */
const isMap = (/** @type {unknown} */ v) => !!v && Object.getPrototypeOf(v) === Object.prototype

/** @param {unknown} v @param {string} f @returns {number} */
function int(v, f) {
  // a bigint beyond 2^53 - 1 becomes a float beyond it: refused like one
  const n = typeof v === 'bigint' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) bad(`${f}: int expected`)
  return n
}
/** @param {unknown} v @param {string} f @returns {number} */
function pos(v, f) {
  const n = int(v, f)
  return n > 0 ? n : bad(`${f}: > 0 expected`)
}
/**
 * A version (of a change, a result, a cursor): an int64 >= 0, as the hub takes it back in `sub`
 * and `base`; one out of that range, once stored, would be refused on every later connection.
 * @param {unknown} v @param {string} f @returns {bigint}
 */
function big(v, f) {
  const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : bad(`${f}: int expected`)
  return b >= 0n && b < 1n << 63n ? b : bad(`${f}: out of range`)
}
/** @param {unknown} v @param {string} f @returns {string} */
function str(v, f) {
  if (typeof v !== 'string') bad(`${f}: str expected`)
  return v
}
/** @param {unknown} v @param {string} f @returns {unknown[]} */
function list(v, f) {
  if (!Array.isArray(v)) bad(`${f}: list expected`)
  return v
}

/**
 * Turn safe 64-bit ints (decoded as bigint) back into numbers inside a document.
 * @param {unknown} v
 * @returns {unknown}
 */
export function plainInts(v) {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v
  if (Array.isArray(v)) return v.map(plainInts)
  if (isMap(v)) {
    const o = /** @type {Record<string, unknown>} */ (v)
    for (const k in o) o[k] = plainInts(o[k])
  }
  return v
}

/**
 * A document; one beyond the document limits becomes the placeholder a conforming hub would have
 * sent (docs/protocol.md "Document limits"): held and shown, never a reason to close.
 * @param {unknown} v @param {string} f @param {Fit} fit @returns {Doc | null}
 */
function doc(v, f, fit) {
  if (v === null || v === undefined) return null
  if (!isMap(v)) bad(`${f}: map expected`)
  const o = docOver(/** @type {object} */ (v), fit.size, fit.limits)
  return /** @type {Doc} */ (o ? { [OVERSIZE]: o } : plainInts(v))
}

/** @param {unknown} v @returns {Cursor} */
function cursor(v) {
  const c = list(v, 'cursor')
  if (c.length !== 2) bad('cursor: [epoch, ver] expected')
  return [str(c[0], 'cursor'), big(c[1], 'cursor')]
}

/** @param {unknown} v @param {Fit} fit @returns {Change[]} */
function changes(v, fit) {
  return list(v, 'changes').map((ch) => {
    const c = list(ch, 'change')
    const id = str(c[0], 'change id')
    if (!id) bad('change id: empty')
    const d = doc(c[2], 'change doc', fit)
    if (d) d.id = id
    return /** @type {Change} */ ([id, big(c[1], 'change ver'), d])
  })
}

/** A hub's document limits (`welcome`); ours for a hub that sends none. @param {unknown} v @returns {import('./limits.js').DocLimits} */
function limits(v) {
  if (v == null) return DOC_LIMITS
  if (!isMap(v)) bad('doc_limits: map expected')
  const o = /** @type {Record<string, unknown>} */ (v)
  return /** @type {any} */ (Object.fromEntries(Object.keys(DOC_LIMITS).map((k) => [k, int(o[k], k)])))
}

const STATUSES = ['ok', 'dup', 'conflict', 'rejected', 'merged', 'error']

/**
 * @typedef {object} Fit what documents must keep to
 * @property {import('./limits.js').DocLimits} limits the hub's (`welcome`)
 * @property {(doc: object) => number} size msgpack size of a document
 */

/**
 * Check a decoded frame and normalise its values (versions as bigint, documents with `id`).
 * Longer than our ~60-line rule on purpose: one short case per message type, so the whole wire
 * format reads top to bottom next to `docs/protocol.md`.
 * @param {unknown} m decoded msgpack value
 * @param {Fit} [fit] default: our limits, sizes not measured
 * @returns {ServerMessage}
 * @throws {ProtocolViolation}
 */
export function parseServerMessage(m, fit = { limits: DOC_LIMITS, size: () => 0 }) {
  if (!isMap(m)) throw new ProtocolViolation(4000, 'frame is not a map')
  const o = /** @type {Record<string, unknown>} */ (m)
  switch (o.t) {
    case 'welcome':
      return {
        t: 'welcome',
        v: int(o.v, 'v'),
        hub: str(o.hub, 'hub'),
        ping_ms: pos(o.ping_ms, 'ping_ms'),
        // at most 10,000: a batch is read from the outbox at once
        max_batch: Math.min(Math.max(int(o.max_batch, 'max_batch'), 1), 1e4),
        max_frame: int(o.max_frame, 'max_frame'),
        // undefined: a hub too old to say who it authenticated
        user: o.user == null ? /** @type {null | undefined} */ (o.user) : str(o.user, 'user'),
        doc_limits: limits(o.doc_limits),
        features: o.features, // checked by presence.js
      }
    case 'page':
      return {
        t: 'page',
        coll: str(o.coll, 'coll'),
        id: int(o.id, 'id'),
        changes: changes(o.changes, fit),
        done: int(o.done, 'done'),
        total: o.total == null ? null : int(o.total, 'total'),
        cursor: o.cursor == null ? null : cursor(o.cursor),
      }
    case 'synced':
      if (typeof o.reset !== 'boolean') bad('reset: bool expected')
      return {
        t: 'synced',
        coll: str(o.coll, 'coll'),
        id: int(o.id, 'id'),
        cursor: cursor(o.cursor),
        mode: str(o.mode, 'mode'),
        reset: o.reset,
      }
    case 'resync':
      return { t: 'resync', coll: str(o.coll, 'coll'), reason: str(o.reason, 'reason'), mode: str(o.mode, 'mode') }
    case 'chg':
      return { t: 'chg', coll: str(o.coll, 'coll'), changes: changes(o.changes, fit), cursor: cursor(o.cursor) }
    case 'ack':
      return {
        t: 'ack',
        results: list(o.results, 'results').map((r) => {
          if (!isMap(r)) bad('result: map expected')
          const x = /** @type {Record<string, unknown>} */ (r)
          const s = str(x.s, 's')
          if (!STATUSES.includes(s)) bad(`result: unknown status ${s}`)
          return {
            seq: int(x.seq, 'seq'),
            s: /** @type {import('./records.js').ResultStatus} */ (s),
            ver: x.ver == null ? 0n : big(x.ver, 'ver'),
            doc: 'doc' in x ? doc(x.doc, 'doc', fit) : undefined,
            code: x.code == null ? undefined : int(x.code, 'code'),
            msg: x.msg == null ? undefined : '' + x.msg,
          }
        }),
      }
    case 'error':
      return {
        t: 'error',
        code: int(o.code, 'code'),
        msg: o.msg == null ? '' : str(o.msg, 'msg'),
        ref: o.ref == null ? null : int(o.ref, 'ref'),
      }
    case 'authed':
      return { t: 'authed', exp: o.exp == null ? null : int(o.exp, 'exp') }
    case 'unsub':
      return { t: 'unsub', coll: str(o.coll, 'coll'), id: int(o.id, 'id'), code: int(o.code, 'code'), msg: o.msg == null ? '' : str(o.msg, 'msg') }
    case 'qpage':
    case 'qchg':
    case 'qsynced':
    case 'qresync':
      // query subscriptions: the changes here (their documents, as in `page`), the rest in subsets.js
      return /** @type {any} */ ({ ...o, changes: changes(o.changes || [], fit) })
    case 'ping':
    case 'pong':
      return { t: o.t, n: int(o.n, 'n') }
    default:
      // room frames (members, joined, updated, left, bcast, rerror): checked by presence.js
      if (o.room) return /** @type {any} */ (o)
      throw new ProtocolViolation(4004, `unknown message type ${String(o.t).slice(0, 40)}`)
  }
}

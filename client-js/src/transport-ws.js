/**
 * WebSocket adapter: one binary msgpack map per frame, or an array of them per message (a batch,
 * asked for in `hello.features`), decoded with hard limits and checked by the core before anything
 * reaches the store. The WebSocket constructor is injected.
 */
import { Encoder, Decoder } from '@msgpack/msgpack'
import { parseServerMessage, ProtocolViolation } from './core/messages.js'
import { DOC_LIMITS } from './core/limits.js'

/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/**
 * @typedef {object} Limits decoder limits for one frame
 * @property {number} maxFrame bytes
 * @property {number} maxStrLength bytes of one string
 * @property {number} maxBinLength bytes of one binary value
 * @property {number} maxArrayLength items of one list
 * @property {number} maxMapLength entries of one map
 * @property {number} maxExtLength bytes of one extension value
 */
/** @type {Limits} any frame a hub sends under the document limits decodes (a map or list of a document is the largest) */
export const DEFAULT_LIMITS = {
  maxFrame: 16 << 20,
  maxStrLength: 4 << 20,
  maxBinLength: 4 << 20,
  maxArrayLength: 200000,
  maxMapLength: DOC_LIMITS.entries,
  maxExtLength: 64,
}

/**
 * @typedef {object} SocketHandlers
 * @property {() => void} open
 * @property {(m: ServerMessage) => void} message
 * @property {(e: ProtocolViolation) => void} violation the frame was rejected; `close` follows
 * @property {(code: number, reason: string, byClient: boolean) => void} close called once
 */
/**
 * @typedef {object} Socket
 * @property {(m: object) => void} send encodes and sends
 * @property {(bytes: Uint8Array) => void} sendBytes
 * @property {(m: object) => Uint8Array} encode
 * @property {(code: number, reason: string) => void} close closes at once, without waiting for the hub
 * @property {(l: import('./core/limits.js').DocLimits) => void} follow the hub's document limits (`welcome`): widen the
 *   decoder to them, hold documents beyond them as placeholders
 */

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true })

/**
 * @param {typeof WebSocket} WS
 * @param {string} url
 * @param {Limits} limits
 * @param {SocketHandlers} on
 * @returns {Socket}
 */
export function openSocket(WS, url, limits, on) {
  const mk = (/** @type {Limits} */ l) => new Decoder({ useBigInt64: true, ...l })
  let decoder = mk(limits)
  /** @type {import('./core/messages.js').Fit} documents beyond these become placeholders */
  const fit = { limits: DOC_LIMITS, size: (d) => encoder.encode(d).byteLength }
  const ws = new WS(url)
  let closed = false
  ws.binaryType = 'arraybuffer'
  /** @param {number} code @param {string} reason @param {boolean} byClient */
  const finish = (code, reason, byClient) => {
    if (closed) return
    closed = true
    ws.onopen = ws.onmessage = ws.onclose = null
    if (byClient) {
      try {
        ws.close(code, reason)
      } catch {
        // a reason over 123 bytes of UTF-8 (a frame's text in it): the code still goes
        ws.close(code)
      }
    }
    on.close(code, reason, byClient)
  }
  ws.onopen = () => on.open()
  ws.onerror = () => {}
  ws.onclose = (ev) => finish(ev.code, ev.reason, false)
  ws.onmessage = (ev) => {
    if (closed) return
    /** @type {ServerMessage[]} */
    let msgs
    try {
      const data = ev.data
      if (!(data instanceof ArrayBuffer)) throw new ProtocolViolation(4000, 'text frame')
      if (data.byteLength > limits.maxFrame) throw new ProtocolViolation(4009, `frame of ${data.byteLength} bytes`)
      let raw
      try {
        raw = decoder.decode(new Uint8Array(data))
      } catch (e) {
        throw new ProtocolViolation(4000, `undecodable frame: ${/** @type {Error} */ (e).message}`)
      }
      // an array: frames the hub batched (hello.features), each handled as if it came alone
      msgs = [raw].flat().map((r) => parseServerMessage(r, fit))
    } catch (e) {
      const v = e instanceof ProtocolViolation ? e : new ProtocolViolation(4000, '' + e)
      on.violation(v)
      finish(v.code, v.message.slice(0, 100), true)
      return
    }
    for (const m of msgs) on.message(m) // after a close, the engine drops the rest (an old generation)
  }
  return {
    encode: (m) => encoder.encode(m),
    send(m) {
      if (!closed) ws.send(/** @type {Uint8Array<ArrayBuffer>} */ (encoder.encode(m)))
    },
    sendBytes(bytes) {
      if (!closed) ws.send(/** @type {Uint8Array<ArrayBuffer>} */ (bytes))
    },
    close: (code, reason) => finish(code, reason, true),
    follow(dl) {
      const { bytes: b, entries: n } = (fit.limits = dl)
      const l = limits
      decoder = mk({ ...l, maxMapLength: Math.max(l.maxMapLength, n), maxArrayLength: Math.max(l.maxArrayLength, n), maxStrLength: Math.max(l.maxStrLength, b), maxBinLength: Math.max(l.maxBinLength, b) })
    },
  }
}

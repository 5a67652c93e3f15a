/**
 * Document limits, the client's copy of the hub's (`hub/core/limits.py`, docs/protocol.md
 * "Document limits"). The hub sends its own in `welcome`; the client follows those. Pure.
 */

/** @typedef {{bytes: number, entries: number, depth: number}} DocLimits */

/** @type {DocLimits} msgpack size of a document; items of one map or list; nesting (the document is level 1) */
export const DOC_LIMITS = { bytes: 256 * 1024, entries: 10000, depth: 16 }

/** Marks a placeholder the hub sent for a stored document beyond the limits. */
export const OVERSIZE = '$oversize'

/**
 * The first limit `doc` breaks, as the hub's placeholder names it, or null. Entries and depth are
 * checked before bytes, as the hub does; for bytes a cheap bound (types and lengths) comes first,
 * so `size` is asked only for large documents.
 * @param {object} doc
 * @param {number | ((doc: object) => number)} size its msgpack size, or how to get it
 * @param {DocLimits} l
 * @returns {{reason: 'bytes' | 'entries' | 'depth', limit: number, size: number} | null}
 */
export function docOver(doc, size, l) {
  let bound = 0
  /** @type {[unknown, number][]} */
  const stack = [[doc, 1]]
  for (let top; (top = stack.pop()); ) {
    const [v, d] = top
    if (typeof v === 'string') bound += 5 + 3 * v.length
    else if (v instanceof Uint8Array) bound += 5 + v.length
    else if (!v || typeof v !== 'object' || v instanceof Date) bound += 15
    else {
      const keys = Object.keys(v)
      if (keys.length > l.entries) return { reason: 'entries', limit: l.entries, size: keys.length }
      if (d > l.depth) return { reason: 'depth', limit: l.depth, size: d }
      for (const k of keys) {
        bound += 5 + 3 * k.length
        stack.push([/** @type {any} */ (v)[k], d + 1])
      }
    }
  }
  const n = typeof size === 'number' ? size : bound > l.bytes ? size(doc) : 0
  return n > l.bytes ? { reason: 'bytes', limit: l.bytes, size: n } : null
}

/**
 * Why `doc` may not be written, or '' when it may.
 * @param {object} doc
 * @param {number | ((doc: object) => number)} size its msgpack size, or how to get it
 * @param {DocLimits} l
 * @returns {string}
 */
export function docProblem(doc, size, l) {
  if (OVERSIZE in doc) return `field ${OVERSIZE} is reserved`
  const o = docOver(doc, size, l)
  return !o ? '' : o.reason === 'depth' ? `depth ${o.size}, limit ${o.limit}` : `${o.size} ${o.reason}, limit ${o.limit}`
}

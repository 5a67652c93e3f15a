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
 * Why `doc` may not be written, or '' when it may.
 * @param {object} doc
 * @param {number} size its msgpack size
 * @param {DocLimits} l
 * @returns {string}
 */
export function docProblem(doc, size, l) {
  if (OVERSIZE in doc) return `field ${OVERSIZE} is reserved`
  if (size > l.bytes) return `${size} bytes, limit ${l.bytes}`
  /** @type {[unknown, number][]} */
  const stack = [[doc, 1]]
  for (let top; (top = stack.pop()); ) {
    const [v, d] = top
    if (!v || typeof v !== 'object' || v instanceof Uint8Array || v instanceof Date) continue
    const items = Object.values(v)
    if (items.length > l.entries) return `${items.length} entries, limit ${l.entries}`
    if (d > l.depth) return `depth ${d}, limit ${l.depth}`
    for (const x of items) stack.push([x, d + 1])
  }
  return ''
}

/**
 * Document limits, the client's copy of the hub's (`hub/core/limits.py`, docs/protocol.md
 * "Document limits"). The hub sends its own in `welcome`; the client follows those. Pure.
 */
export type DocLimits = {
    bytes: number;
    entries: number;
    depth: number;
};
/** @typedef {{bytes: number, entries: number, depth: number}} DocLimits */
/** @type {DocLimits} msgpack size of a document; items of one map or list; nesting (the document is level 1) */
export declare const DOC_LIMITS: DocLimits;
/** Marks a placeholder the hub sent for a stored document beyond the limits. */
export declare const OVERSIZE = "$oversize";
/**
 * The first limit `doc` breaks, as the hub's placeholder names it, or null. Entries and depth are
 * checked before bytes, as the hub does; for bytes a cheap bound (types and lengths) comes first,
 * so `size` is asked only for large documents.
 * @param {object} doc
 * @param {number | ((doc: object) => number)} size its msgpack size, or how to get it
 * @param {DocLimits} l
 * @returns {{reason: 'bytes' | 'entries' | 'depth', limit: number, size: number} | null}
 */
export declare function docOver(doc: object, size: number | ((doc: object) => number), l: DocLimits): {
    reason: 'bytes' | 'entries' | 'depth';
    limit: number;
    size: number;
} | null;
/**
 * Why `doc` may not be written, or '' when it may.
 * @param {object} doc
 * @param {number | ((doc: object) => number)} size its msgpack size, or how to get it
 * @param {DocLimits} l
 * @returns {string}
 */
export declare function docProblem(doc: object, size: number | ((doc: object) => number), l: DocLimits): string;

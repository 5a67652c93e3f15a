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
 * Why `doc` may not be written, or '' when it may.
 * @param {object} doc
 * @param {number} size its msgpack size
 * @param {DocLimits} l
 * @returns {string}
 */
export declare function docProblem(doc: object, size: number, l: DocLimits): string;

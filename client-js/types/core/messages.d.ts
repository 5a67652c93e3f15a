/**
 * Validation of decoded hub frames (protocol v1). Pure functions; they never touch the store.
 * A frame that fails here closes the socket (`ProtocolViolation.code`).
 */
export type Doc = import('./records.js').Doc;
export type AckResult = import('./records.js').AckResult;
export type Cursor = import('./cursor.js').Cursor;
export type Change = [string, bigint, Doc | null];
export type ServerMessage = {
    t: 'welcome';
    v: number;
    hub: string;
    ping_ms: number;
    max_batch: number;
    max_frame: number;
    user?: string | null;
    doc_limits: import('./limits.js').DocLimits;
    features?: unknown;
} | {
    t: 'page';
    coll: string;
    id: number;
    changes: Change[];
    done: number;
    total: number | null;
    cursor: Cursor | null;
} | {
    t: 'synced';
    coll: string;
    id: number;
    cursor: Cursor;
    mode: string;
    reset: boolean;
} | {
    t: 'resync';
    coll: string;
    reason: string;
    mode: string;
} | {
    t: 'chg';
    coll: string;
    changes: Change[];
    cursor: Cursor;
} | {
    t: 'ack';
    results: AckResult[];
} | {
    t: 'error';
    code: number;
    msg: string;
    ref: number | null;
} | {
    t: 'authed';
    exp: number | null;
} | {
    t: 'unsub';
    coll: string;
    id: number;
    code: number;
    msg: string;
} | {
    t: 'ping' | 'pong';
    n: number;
} | {
    t: 'members' | 'joined' | 'updated' | 'left' | 'bcast' | 'rerror';
    room: string;
    [k: string]: unknown;
} | {
    t: 'qpage' | 'qsynced' | 'qchg' | 'qresync';
    changes: Change[];
    [k: string]: unknown;
};
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
export declare class ProtocolViolation extends Error {
    code: number;
    /**
     * @param {number} code 4000 bad frame, 4001 bad message, 4004 unknown type, 4009 too large
     * @param {string} message
     */
    constructor(code: number, message: string);
}
/**
 * Turn safe 64-bit ints (decoded as bigint) back into numbers inside a document.
 * @param {unknown} v
 * @returns {unknown}
 */
export declare function plainInts(v: unknown): unknown;
export type Fit = {
    /**
     * the hub's (`welcome`)
     */
    limits: import('./limits.js').DocLimits;
    /**
     * msgpack size of a document
     */
    size: (doc: object) => number;
};
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
export declare function parseServerMessage(m: unknown, fit?: Fit): ServerMessage;

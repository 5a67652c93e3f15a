/**
 * Rules for one stored document: local writes, remote changes and acks. Pure functions.
 *
 * A record holds the local view (`doc`), the version of the server state the client knows
 * (`ver`, kept for deletes as a tombstone), the number of pending outbox entries (`pend`) and,
 * while `pend > 0`, the server's document at `ver` (`srv`), so the view can fall back to it.
 */
export type Doc = {
    [field: string]: unknown;
};
export type DocRecord = {
    /**
     * collection
     */
    c: string;
    /**
     * document id
     */
    id: string;
    /**
     * local view (null = deleted)
     */
    doc: Doc | null;
    /**
     * server version held (0n = none)
     */
    ver: bigint;
    /**
     * pending outbox entries for this document
     */
    pend: number;
    /**
     * server document at `ver` while `pend > 0`
     */
    srv: Doc | null;
};
export type OutboxEntry = {
    seq: number;
    c: string;
    id: string;
    op: 'put' | 'del';
    doc: Doc | null;
    ts: bigint;
    base: bigint;
    /**
     * made on top of an earlier pending write of the same document; its
     * base is filled in when that write is acknowledged, and it is not sent before
     */
    dep: boolean;
};
export type ResultStatus = 'ok' | 'dup' | 'conflict' | 'rejected' | 'merged' | 'error';
export type AckResult = {
    seq: number;
    s: ResultStatus;
    ver: bigint;
    /**
     * present for conflict, rejected, merged (and maybe dup)
     */
    doc: Doc | null | undefined;
    code?: number;
    msg?: string;
};
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
export declare function localWrite(rec: DocRecord | undefined, c: string, id: string, doc: Doc | null): {
    rec: DocRecord;
    base: bigint;
    dep: boolean;
};
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
export declare function remoteChange(rec: DocRecord | undefined, c: string, id: string, ver: bigint, doc: Doc | null): {
    rec: DocRecord;
    visible: boolean;
} | null;
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
export declare function ackWrite(rec: DocRecord | undefined, entry: OutboxEntry, result: AckResult): {
    rec: DocRecord;
    visible: boolean;
    conflict: boolean;
    nextBase: bigint;
};
/**
 * Structural equality for documents (msgpack-compatible values).
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export declare function sameDoc(a: unknown, b: unknown): boolean;

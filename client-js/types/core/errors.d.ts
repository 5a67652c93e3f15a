/**
 * The shapes the app sees for failures and verdicts: one `SyncError` for every `error` event, one
 * `WriteResult` per acknowledged write. Pure.
 */
export type SyncError = import('../types.js').SyncError;
export type ErrorKind = import('../types.js').ErrorKind;
export type WriteResult = import('../types.js').WriteResult;
export type OutboxEntry = import('./records.js').OutboxEntry;
export type AckResult = import('./records.js').AckResult;
/** @typedef {import('../types.js').SyncError} SyncError */
/** @typedef {import('../types.js').ErrorKind} ErrorKind */
/** @typedef {import('../types.js').WriteResult} WriteResult */
/** @typedef {import('./records.js').OutboxEntry} OutboxEntry */
/** @typedef {import('./records.js').AckResult} AckResult */
/**
 * A `SyncError`.
 * @param {ErrorKind} kind
 * @param {number} code 0 when there is none
 * @param {unknown} message a string, or the exception behind the error (kept as `cause`)
 * @param {boolean} retry the client tries again by itself
 * @param {Partial<SyncError>} [more] `fatal`, `coll`, `id`, `seq`, `local`, `server`, `user`
 * @returns {SyncError}
 */
export declare function syncError(kind: ErrorKind, code: number, message: unknown, retry: boolean, more?: Partial<SyncError>): SyncError;
/** A result the hub asks to send again later (4500-4999, e.g. 4504 during a rolling deploy). @param {AckResult} r */
export declare const retryLater: (r: AckResult) => boolean;
/**
 * The verdict of a final result for `entry` (`r.doc`, when present, carries the document's `id`).
 * `ok`, and a replay the hub had applied before (`dup`), are `applied`.
 * @param {OutboxEntry} entry
 * @param {AckResult} r
 * @returns {WriteResult}
 */
export declare function verdict(entry: OutboxEntry, r: AckResult): WriteResult;
/**
 * IndexedDB refused a transaction (`quota`: QuotaExceededError); nothing of it was kept.
 * @param {unknown} e
 * @param {boolean} retry
 */
export declare const storeError: (e: unknown, retry: boolean) => SyncError;

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
/**
 * What a `token` function throws to say "the user is signed out": sync stops (status
 * `unauthorized`) until `reconnect()`, instead of retrying. Also what `flush()` rejects with while
 * the client is `unauthorized`.
 */
export declare class UnauthorizedError extends Error {
    /** @param {string} [message] @param {ErrorOptions} [options] */
    constructor(message?: string, options?: ErrorOptions);
}
/**
 * Judge what a `token` function gave: a token, or the `error` to report (`unauthorized` for an
 * `UnauthorizedError`, stopping sync; `token` otherwise, retried with backoff).
 * @param {unknown} token what it returned (resolved), when it did not throw
 * @param {unknown} [thrown] what it threw (or rejected with)
 * @returns {string | SyncError}
 */
export declare function tokenOutcome(token: unknown, thrown?: unknown): string | SyncError;
/**
 * What `flush()` rejects with while sync is stopped by `halt` (a fatal `error`).
 * @param {SyncError} halt
 * @returns {Error}
 */
export declare const stopError: (halt: SyncError) => Error;

/**
 * The shapes the app sees for failures and verdicts: one `SyncError` for every `error` event, one
 * `WriteResult` per acknowledged write. Pure.
 */

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
export function syncError(kind, code, message, retry, more) {
  const e = /** @type {{message?: unknown} | null} */ (message)
  return {
    kind,
    code,
    message: typeof message === 'string' ? message : '' + (e?.message || message),
    retry,
    fatal: false,
    ...(typeof message === 'string' ? {} : { cause: message }),
    ...more,
  }
}

/** A result the hub asks to send again later (4500-4999, e.g. 4504 during a rolling deploy). @param {AckResult} r */
export const retryLater = (r) => r.s === 'error' && (r.code ?? 0) >= 4500

/**
 * The verdict of a final result for `entry` (`r.doc`, when present, carries the document's `id`).
 * `ok`, and a replay the hub had applied before (`dup`), are `applied`.
 * @param {OutboxEntry} entry
 * @param {AckResult} r
 * @returns {WriteResult}
 */
export function verdict(entry, r) {
  return {
    seq: r.seq,
    coll: entry.c,
    id: entry.id,
    status: r.s === 'ok' || r.s === 'dup' ? 'applied' : r.s,
    ver: r.ver,
    ...(r.s === 'error' ? { code: r.code ?? 0, message: r.msg ?? '' } : {}),
    ...(r.s !== 'ok' && r.doc !== undefined ? { serverDoc: /** @type {any} */ (r.doc) } : {}),
  }
}

/**
 * IndexedDB refused a transaction (`quota`: QuotaExceededError); nothing of it was kept.
 * @param {unknown} e
 * @param {boolean} retry
 */
export const storeError = (e, retry) =>
  syncError(/** @type {{name?: string} | null} */ (e)?.name === 'QuotaExceededError' ? 'quota' : 'store', 0, e, retry)

/**
 * What a `token` function throws to say "the user is signed out": sync stops (status
 * `unauthorized`) until `reconnect()`, instead of retrying. Also what `flush()` rejects with while
 * the client is `unauthorized`.
 */
export class UnauthorizedError extends Error {
  /** @param {string} [message] @param {ErrorOptions} [options] */
  constructor(message = 'unauthorized', options) {
    super(message, options)
    this.name = 'UnauthorizedError'
  }
}

/**
 * Judge what a `token` function gave: a token, or the `error` to report (`unauthorized` for an
 * `UnauthorizedError`, stopping sync; `token` otherwise, retried with backoff).
 * @param {unknown} token what it returned (resolved), when it did not throw
 * @param {unknown} [thrown] what it threw (or rejected with)
 * @returns {string | SyncError}
 */
export function tokenOutcome(token, thrown) {
  if (thrown !== undefined) {
    return /** @type {{name?: string} | null} */ (thrown)?.name === 'UnauthorizedError'
      ? syncError('unauthorized', 0, thrown, false, { fatal: true })
      : syncError('token', 0, thrown, true)
  }
  return typeof token === 'string' && token ? token : syncError('token', 0, 'no token', true)
}

/**
 * What `flush()` rejects with while sync is stopped by `halt` (a fatal `error`).
 * @param {SyncError} halt
 * @returns {Error}
 */
export const stopError = (halt) =>
  halt.kind === 'unauthorized' ? new UnauthorizedError(halt.message, { cause: halt }) : new Error(halt.message, { cause: halt })

/**
 * The key scheme of the client database, in one place. Pure: no IndexedDB calls, only the names
 * and keys the adapter (`store.js`) uses.
 *
 * A document is named by its collection and id, `[c, id]`. That pair is the primary key of
 * `docs` (records carry `c` and `id`, the key path), the key of the `doc` index of `outbox`
 * (entries carry `c` and `id` too) and, as `docTag`, the key of in-memory maps and sets. Outbox
 * entries are keyed by `seq`. `meta` holds out-of-line keys: `clock`, `client` and one `cur:<c>`
 * per collection.
 *
 * This is the layout of databases already in browsers (version 1): change it only with an upgrade.
 */

export const DB_VERSION = 1

export const DOCS = 'docs'
export const OUTBOX = 'outbox'
export const META = 'meta'

/** Key path of `docs` and of the `doc` index of `outbox`. */
export const DOC_KEY_PATH = ['c', 'id']
/** Key path of `outbox`. */
export const OUTBOX_KEY_PATH = 'seq'
/** Index of `outbox` by document, in `seq` order within a document. */
export const OUTBOX_BY_DOC = 'doc'

/** `meta` key of the last used `{seq, ts}`. */
export const CLOCK_KEY = 'clock'
/** `meta` key of the persistent client id. */
export const CLIENT_KEY = 'client'

/**
 * The IndexedDB key of a document (in `docs` and in the outbox's `doc` index).
 * @param {string} c collection
 * @param {string} id document id
 * @returns {[string, string]}
 */
export const docKey = (c, id) => [c, id]

/**
 * The same key as a string, for `Map`s and `Set`s; distinct pairs give distinct strings.
 * @param {string} c
 * @param {string} id
 */
export const docTag = (c, id) => JSON.stringify(docKey(c, id))

/**
 * Lower and upper bounds of the keys of every document of collection `c` (array keys sort
 * after strings, so `[c, []]` is above every `[c, id]`).
 * @param {string} c
 * @returns {[[string], [string, never[]]]}
 */
export const collBounds = (c) => [[c], [c, []]]

/**
 * The `meta` key of the cursor of collection `c`.
 * @param {string} c
 */
export const cursorKey = (c) => 'cur:' + c

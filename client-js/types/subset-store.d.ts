export type Store = import('./store.js').Store;
export type StoredChange = import('./store.js').StoredChange;
export type DocRecord = import('./core/records.js').DocRecord;
export type Change = import('./core/messages.js').Change;
export type Cursor = import('./core/cursor.js').Cursor;
/**
 * Apply changes of the subscriptions `keys` (one `qpage`, or a `qchg` of the subset they share):
 * a document enters or changes (held by `keys` from now on), or `[id, ver, null]`, a removal from
 * them; `cursor`, when given, becomes the cursor of `cursorKeys`.
 * @param {Store} store @param {string} c @param {string[]} keys @param {Change[]} changes
 * @param {Cursor | null} cursor @param {string[]} cursorKeys @param {boolean} whole
 * @returns {Promise<StoredChange[]>} the changes visible to the app
 */
export declare function applySubset(store: Store, c: string, keys: string[], changes: Change[], cursor: Cursor | null, cursorKeys: string[], whole: boolean): Promise<StoredChange[]>;
/**
 * A sync of subscription `key` is complete: store its cursor; with `reset`, release the documents
 * it held that the sync did not send (`seen`).
 * @param {Store} store @param {string} c @param {string} key @param {Cursor} cursor
 * @param {boolean} reset @param {Set<string>} seen @param {boolean} whole
 * @returns {Promise<StoredChange[]>}
 */
export declare function finishSubset(store: Store, c: string, key: string, cursor: Cursor, reset: boolean, seen: Set<string>, whole: boolean): Promise<StoredChange[]>;
/**
 * Subscription `key` ended: release every document it held, forget its cursor.
 * @param {Store} store @param {string} c @param {string} key @param {boolean} whole
 * @returns {Promise<StoredChange[]>}
 */
export declare function endSubset(store: Store, c: string, key: string, whole: boolean): Promise<StoredChange[]>;
/**
 * The stored cursor of subscription `key` (null: none, a first sync).
 * @param {Store} store @param {string} key
 * @returns {Promise<Cursor | null>}
 */
export declare function subsetCursor(store: Store, key: string): Promise<Cursor | null>;
/**
 * Writes were acknowledged: drop those of `docs` that had left every subscription while pending
 * (marked `[]`) and have no pending write left.
 * @param {Store} store @param {[string, string][]} pairs `[coll, id]`
 * @returns {Promise<StoredChange[]>}
 */
export declare function settleLeft(store: Store, pairs: [string, string][]): Promise<StoredChange[]>;
/**
 * How many documents of `c` each subscription holds (for tests and diagnostics).
 * @param {Store} store @param {string} c
 * @returns {Promise<Map<string, string[]>>} document id → keys of its holders
 */
export declare function holders(store: Store, c: string): Promise<Map<string, string[]>>;

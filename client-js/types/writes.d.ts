export type SyncClient = import('./client.js').SyncClient;
export type Doc = import('./types.js').Doc;
export type WriteHandle = import('./types.js').WriteHandle;
export type WriteResult = import('./types.js').WriteResult;
export type Store = import('./store.js').Store;
/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./types.js').WriteHandle} WriteHandle */
/** @typedef {import('./types.js').WriteResult} WriteResult */
/** @typedef {import('./store.js').Store} Store */
/**
 * Queue a local write of `cl`.
 * @param {SyncClient} cl
 * @param {string} c
 * @param {string} id
 * @param {Doc | null | ((cur: Doc | undefined) => Doc | null)} doc a function: `update()`
 * @returns {Promise<WriteHandle>}
 */
export declare function write(cl: SyncClient, c: string, id: string, doc: Doc | null | ((cur: Doc | undefined) => Doc | null)): Promise<WriteHandle>;

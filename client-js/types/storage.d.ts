/**
 * `synchub-client/storage`: how the browser keeps the client's data. A separate entry point (the
 * core entry has a size budget; this is asked for once, not on every page).
 */
/**
 * How the browser keeps this origin's data: `persisted` (asks for persistent storage, which the
 * browser may grant or refuse), `usage` and `quota` in bytes (null when not reported). Uses the
 * client's `env.storage` (default `navigator.storage`).
 * @param {import('./client.js').SyncClient} client
 * @returns {Promise<import('./types.js').StorageInfo>}
 */
export declare function storage(client: import('./client.js').SyncClient): Promise<import('./types.js').StorageInfo>;

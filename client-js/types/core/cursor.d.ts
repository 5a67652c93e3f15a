/** @typedef {[string, bigint]} Cursor `[epoch, ver]` as stored by the client */
export type Cursor = [string, bigint];
/**
 * Combine a held cursor with a newer one from the hub. Versions are comparable only within one
 * epoch; a different epoch replaces the held cursor (the hub is the authority on generations).
 * @param {Cursor | null | undefined} held
 * @param {Cursor} incoming
 * @returns {Cursor}
 */
export declare function mergeCursor(held: Cursor | null | undefined, incoming: Cursor): Cursor;

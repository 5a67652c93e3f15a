/** @typedef {[string, bigint]} Cursor `[epoch, ver]` as stored by the client */

/**
 * Combine a held cursor with a newer one from the hub. Versions are comparable only within one
 * epoch; a different epoch replaces the held cursor (the hub is the authority on generations).
 * @param {Cursor | null | undefined} held
 * @param {Cursor} incoming
 * @returns {Cursor}
 */
export function mergeCursor(held, incoming) {
  if (!held || held[0] !== incoming[0]) return incoming
  return incoming[1] > held[1] ? incoming : held
}

export type IndexDef = import('./core/plan.js').IndexDef;
export type DocRecord = import('./core/records.js').DocRecord;
export type Indexes = import('./store.js').Schema & {
    defs: Map<string, IndexDef[]>;
};
/** @typedef {import('./core/plan.js').IndexDef} IndexDef */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/**
 * @typedef {import('./store.js').Schema & {defs: Map<string, IndexDef[]>}} Indexes what `indexes()`
 *   returns, for the `indexes` option of `SyncClient`
 */
/**
 * Declare the query indexes of each collection: a field name or a list of field names (a compound
 * index, which also serves queries on its leading fields). Field names are identifiers, nested
 * fields dot-separated (`author.name`).
 * @example new SyncClient({ url, indexes: indexes({ todos: ['updatedAt', ['team', 'done', 'updatedAt']] }) })
 * @param {{[coll: string]: readonly (string | readonly string[])[]}} spec
 * @returns {Indexes}
 */
export declare function indexes(spec: {
    [coll: string]: readonly (string | readonly string[])[];
}): Indexes;

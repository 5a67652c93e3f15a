import { LiveQuery } from './live-query.js';
export { indexes } from './query-schema.js';
export { LiveQuery } from './live-query.js';
export { subset, syncNamed, Subset } from './subsets.js';
export type SubsetEventMap = import('./subsets.js').SubsetEventMap;
export type Doc = import('./types.js').Doc;
export type WhereOp = import('./core/query.js').WhereOp;
export type Spec = import('./core/plan.js').Spec;
export type Prepared = import('./core/plan.js').Prepared;
export type Indexes = import('./query-schema.js').Indexes;
export type FieldOf<T extends object> = Extract<keyof T, string> | 'id';
export type ValueOf<T extends object, K extends string> = K extends keyof T ? T[K] : K extends 'id' ? string : unknown;
export type Snapshot<T extends object = Doc> = import('./live-query.js').Snapshot<T>;
export type SnapshotMeta = import('./live-query.js').SnapshotMeta;
export type Explain = {
    /**
     * the IndexedDB index read; null: the whole collection is scanned
     */
    index: string | null;
    /**
     * key ranges read (one per combination of `in` values)
     */
    ranges: number;
    /**
     * the index yields the query's order (a `limit` stops the read early)
     */
    ordered: boolean;
    /**
     * the index ranges hold exactly the matching documents (no filtering)
     */
    exact: boolean;
};
/**
 * An immutable query over one collection: each method returns a new query.
 * @template {object} [T=Doc]
 */
export declare class Query<T extends object = Doc> {
    #private;
    /** @readonly @type {import('./collection.js').Collection<T>} */
    readonly collection: import('./collection.js').Collection<T>;
    /**
     * Keep the documents whose `field` compares so with `value` (`in`: equals one of the values).
     * Ranges compare within the value's type (numbers, strings, dates, booleans); a missing field
     * matches nothing. Clauses add up (AND). `where({team: 'x', done: false})`: equalities.
     * @overload
     * @param {{[K in FieldOf<T>]?: ValueOf<T, K>}} fields
     * @returns {Query<T>}
     */
    /**
     * @template {FieldOf<T>} K
     * @template {WhereOp} O
     * @overload
     * @param {K} field
     * @param {O} op
     * @param {O extends 'in' ? readonly ValueOf<T, K>[] : ValueOf<T, K>} value
     * @returns {Query<T>}
     */
    /**
     * @param {any} field @param {any} [op] @param {unknown} [value]
     * @returns {Query<T>}
     */
    where(fields: { [K in FieldOf<T>]?: ValueOf<T, K>; }): Query<T>;
    /**
     * Keep the documents whose `field` compares so with `value` (`in`: equals one of the values).
     * Ranges compare within the value's type (numbers, strings, dates, booleans); a missing field
     * matches nothing. Clauses add up (AND). `where({team: 'x', done: false})`: equalities.
     * @overload
     * @param {{[K in FieldOf<T>]?: ValueOf<T, K>}} fields
     * @returns {Query<T>}
     */
    /**
     * @template {FieldOf<T>} K
     * @template {WhereOp} O
     * @overload
     * @param {K} field
     * @param {O} op
     * @param {O extends 'in' ? readonly ValueOf<T, K>[] : ValueOf<T, K>} value
     * @returns {Query<T>}
     */
    /**
     * @param {any} field @param {any} [op] @param {unknown} [value]
     * @returns {Query<T>}
     */
    where<K extends FieldOf<T>, O extends WhereOp>(field: K, op: O, value: O extends 'in' ? readonly ValueOf<T, K>[] : ValueOf<T, K>): Query<T>;
    /**
     * Sync this query's subset from the hub (a query subscription, docs/client.md "Partial sync"):
     * its `where` clauses are the filter (`orderBy` stays local; `limit` and `startAfter` cannot be
     * synced). The documents land in the collection; read them with this query (offline too).
     * @returns {import('./subsets.js').Subset}
     */
    sync(): import('./subsets.js').Subset;
    /**
     * Order by `field` (then by the next `orderBy`, and last by id). Documents without the field
     * come last (first when descending).
     * @param {FieldOf<T>} field
     * @param {'asc' | 'desc'} [dir]
     * @returns {Query<T>}
     */
    orderBy(field: FieldOf<T>, dir?: 'asc' | 'desc'): Query<T>;
    /**
     * At most `n` documents.
     * @param {number} n
     * @returns {Query<T>}
     */
    limit(n: number): Query<T>;
    /**
     * The documents after `doc` in this query's order: pass the last document of a page for the
     * next page. Only its `orderBy` fields and `id` are read.
     * @param {Partial<T> & {id: string}} doc
     * @returns {Query<T>}
     */
    startAfter(doc: Partial<T> & {
        id: string;
    }): Query<T>;
    /**
     * The matching documents (the local view: pending writes included, deletions never), in order.
     * @returns {Promise<import('./types.js').WithId<T>[]>}
     */
    get(): Promise<import('./types.js').WithId<T>[]>;
    /**
     * How many documents `get()` would return; counted in the index when it can.
     * @returns {Promise<number>}
     */
    count(): Promise<number>;
    /** How the query is answered: which index, or a scan. @returns {Explain} */
    explain(): Explain;
    /**
     * A live query: evaluated now and after every change that can touch its result.
     * @returns {LiveQuery<T>}
     */
    live(): LiveQuery<T>;
    /**
     * Call `cb` with the result once it is read, then after every change of it (documents,
     * `pending`, `fromCache`); at most once per animation frame.
     * @param {(docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void} cb
     * @param {(error: unknown) => void} [onError] an evaluation failed (the result stays the previous one)
     * @returns {() => void} stop
     */
    observe(cb: (docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void, onError?: (error: unknown) => void): () => void;
}
/**
 * A query over all documents of `collection` (narrow it with `where`, `orderBy`, `limit`…).
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} collection
 * @returns {Query<T>}
 */
export declare function query<T extends object>(collection: import('./collection.js').Collection<T>): Query<T>;
/**
 * `query.observe(cb)`, as a function.
 * @template {object} T
 * @param {Query<T>} q
 * @param {(docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void} cb
 * @returns {() => void} stop
 */
export declare function observe<T extends object>(q: Query<T>, cb: (docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void): () => void;

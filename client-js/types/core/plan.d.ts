export type Key = import('./query.js').Key;
export type Order = import('./query.js').Order;
export type Constraint = import('./query.js').Constraint;
export type IndexDef = {
    /**
     * IndexedDB index name
     */
    name: string;
    fields: string[];
    keyPath: string[];
};
export type Range = {
    lo: Key[];
    hi: Key[];
    hiOpen: boolean;
};
export type Plan = {
    /**
     * null: scan the collection
     */
    index: IndexDef | null;
    /**
     * key ranges of `index`, read one after the other
     */
    ranges: Range[];
    dir: 'next' | 'prev';
    /**
     * each range yields its documents in the query's order (the results of
     * one range may stop at `limit`; several ranges are merged)
     */
    ordered: boolean;
    /**
     * every document in the ranges matches (a count may use `IDBIndex.count`)
     */
    exact: boolean;
    /**
     * the equality fields the index narrows by (for `explain()`)
     */
    prefix: string[];
};
/** @typedef {import('./query.js').Key} Key */
/** @typedef {import('./query.js').Order} Order */
/** @typedef {import('./query.js').Constraint} Constraint */
/**
 * @typedef {object} IndexDef one declared index
 * @property {string} name IndexedDB index name
 * @property {string[]} fields
 * @property {string[]} keyPath
 */
/** @typedef {{lo: Key[], hi: Key[], hiOpen: boolean}} Range a key range of one index (the low bound closed) */
/**
 * @typedef {object} Plan
 * @property {IndexDef | null} index null: scan the collection
 * @property {Range[]} ranges key ranges of `index`, read one after the other
 * @property {'next' | 'prev'} dir
 * @property {boolean} ordered each range yields its documents in the query's order (the results of
 *   one range may stop at `limit`; several ranges are merged)
 * @property {boolean} exact every document in the ranges matches (a count may use `IDBIndex.count`)
 * @property {string[]} prefix the equality fields the index narrows by (for `explain()`)
 */
/** At most this many key ranges (the product of `in` lists) per query; beyond, fewer index fields are used. */
export declare const MAX_RANGES = 64;
/**
 * Check and name the indexes declared per collection.
 * @param {{[coll: string]: readonly (string | readonly string[])[]}} spec e.g. `{todos: ['team', ['team', 'done']]}`
 * @returns {Map<string, IndexDef[]>} by collection
 */
export declare function indexDefs(spec: {
    [coll: string]: readonly (string | readonly string[])[];
}): Map<string, IndexDef[]>;
/**
 * The derived keys of a document for the indexes of its collection (the record's `k`).
 * @param {object} doc
 * @param {IndexDef[]} defs
 * @returns {object}
 */
export declare function derivedKeys(doc: object, defs: IndexDef[]): object;
/**
 * Choose the index and key ranges for a query: the index whose leading fields the query fixes
 * (`==`, `in`) the most, then a range on the next field; ties go to the index that yields the
 * query's order, then to the shorter one. Without an index that narrows or orders, a scan.
 * @param {string} coll
 * @param {Map<string, Constraint>} cons
 * @param {Order[]} order
 * @param {IndexDef[]} defs
 * @returns {Plan}
 */
export declare function plan(coll: string, cons: Map<string, Constraint>, order: Order[], defs: IndexDef[]): Plan;
/**
 * Narrow an ordered plan's ranges to the keys after a cursor document (`startAfter`). A range
 * whose fixed fields differ from the cursor's is kept whole when those fields order the results
 * (it lies wholly before or after the cursor: the documents read are filtered anyway).
 * @param {Plan} p
 * @param {Order[]} order
 * @param {object} after the cursor document (its index fields and id)
 * @returns {Range[]}
 */
export declare function rangesAfter(p: Plan, order: Order[], after: object): Range[];
export type Spec = {
    coll: string;
    where: import('./query.js').Where[];
    order: Order[];
    limit: number | null;
    /**
     * `startAfter` document
     */
    after: object | null;
};
export type Prepared = {
    spec: Spec;
    cons: Map<string, Constraint>;
    plan: Plan;
    cmp: (a: object, b: object) => number;
};
/**
 * @typedef {object} Spec what a query asks (`Query` of `synchub-client/query` holds one)
 * @property {string} coll
 * @property {import('./query.js').Where[]} where
 * @property {Order[]} order
 * @property {number | null} limit
 * @property {object | null} after `startAfter` document
 */
/**
 * @typedef {object} Prepared a query ready to run: its constraints, plan and order
 * @property {Spec} spec
 * @property {Map<string, Constraint>} cons
 * @property {Plan} plan
 * @property {(a: object, b: object) => number} cmp
 */
/**
 * @param {Spec} spec
 * @param {IndexDef[]} defs the indexes of `spec.coll`
 * @returns {Prepared}
 */
export declare function prepare(spec: Spec, defs: IndexDef[]): Prepared;
/**
 * The index key of a stored record in `def` (as its key path gives it).
 * @param {{c: string, id: string, k?: any}} rec
 * @param {IndexDef} def
 * @returns {Key[]}
 */
export declare const indexKey: (rec: {
    c: string;
    id: string;
    k?: any;
}, def: IndexDef) => Key[];

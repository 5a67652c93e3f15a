/**
 * Local queries, the pure part: the index keys of field values, their order, `where` clauses
 * folded into one constraint per field, matching and sorting documents. No IndexedDB here: the
 * same rules decide what an index range returns (`core/plan.js`) and what a document in memory
 * matches, so a query answers the same from an index, from a scan and in a live query.
 *
 * Values and their order (the order of IndexedDB keys, extended):
 *   numbers < dates < strings < null < false < true < missing
 * IndexedDB cannot index null, booleans or objects, so those are stored as one-element arrays
 * (arrays sort after every other key). "Missing" covers an absent field and values no query
 * compares (objects, arrays, NaN, invalid dates): it sorts last and no `where` matches it. bigint
 * is compared as a number (exact up to 2^53).
 */
export type Key = number | string | Date | unknown[];
export type WhereOp = '==' | '<' | '<=' | '>' | '>=' | 'in';
export type Where = {
    field: string;
    op: WhereOp;
    value: unknown;
};
export type Order = {
    field: string;
    dir: 'asc' | 'desc';
};
export type Constraint = {
    /**
     * one of these keys (ascending, no duplicates); null: a range
     */
    in: Key[] | null;
    lo: Key;
    loOpen: boolean;
    hi: Key;
    hiOpen: boolean;
};
/** @typedef {number | string | Date | unknown[]} Key an IndexedDB key */
/** @typedef {'==' | '<' | '<=' | '>' | '>=' | 'in'} WhereOp */
/** @typedef {{field: string, op: WhereOp, value: unknown}} Where */
/** @typedef {{field: string, dir: 'asc' | 'desc'}} Order */
/**
 * @typedef {object} Constraint what a field must be, all of its `where` clauses together
 * @property {Key[] | null} in one of these keys (ascending, no duplicates); null: a range
 * @property {Key} lo
 * @property {boolean} loOpen
 * @property {Key} hi
 * @property {boolean} hiOpen
 */
export declare const NULL: number[];
export declare const FALSE: number[];
export declare const TRUE: number[];
export declare const MISSING: number[];
/** Above every key a field can have (an array holding an array sorts above arrays of scalars). */
export declare const TOP: never[][];
/**
 * The key a field value is indexed and compared by.
 * @param {unknown} v
 * @returns {Key}
 */
export declare function encode(v: unknown): Key;
/**
 * Compare two keys as IndexedDB does (`indexedDB.cmp`): by type, then by value; strings by
 * UTF-16 code units, arrays element by element.
 * @param {Key} a
 * @param {Key} b
 * @returns {number} negative, 0 or positive
 */
export declare function cmpKey(a: Key, b: Key): number;
/**
 * A field's value; `path` may name a nested field (`author.name`).
 * @param {unknown} doc
 * @param {string} path
 */
export declare function field(doc: unknown, path: string): any;
/** Field paths a query or an index may name: identifiers joined by dots (they are IndexedDB key paths). */
export declare const FIELD: RegExp;
/**
 * Check a `where` clause; the thrown TypeError names what is wrong.
 * @param {Where} w
 * @returns {Where}
 */
export declare function checkWhere(w: Where): Where;
/**
 * Fold `where` clauses into one constraint per field. Contradictory clauses give a field no
 * key at all (`in: []`): the query matches nothing.
 * @param {Where[]} where
 * @returns {Map<string, Constraint>}
 */
export declare function constraints(where: Where[]): Map<string, Constraint>;
/**
 * Does a key satisfy a constraint.
 * @param {Key} k
 * @param {Constraint} c
 */
export declare function satisfies(k: Key, c: Constraint): boolean;
/**
 * Does a document match every constraint (tombstones, `null`, match nothing).
 * @param {object | null | undefined} doc
 * @param {Map<string, Constraint>} cons
 */
export declare function matches(doc: object | null | undefined, cons: Map<string, Constraint>): boolean;
/**
 * The order of a query's results: its `orderBy` fields, then the document id, ascending or, when
 * the last `orderBy` is descending, descending (so an index read backwards gives the same order).
 * @param {Order[]} order
 * @returns {(a: object, b: object) => number}
 */
export declare function comparator(order: Order[]): (a: object, b: object) => number;

export type Prepared = import('./core/plan.js').Prepared;
export type Range = import('./core/plan.js').Range;
export type IndexDef = import('./core/plan.js').IndexDef;
export type DocRecord = import('./core/records.js').DocRecord;
/**
 * The records of the documents a query returns, in its order.
 * @param {IDBDatabase} db
 * @param {Prepared} q
 * @returns {Promise<DocRecord[]>}
 */
export declare function readQuery(db: IDBDatabase, q: Prepared): Promise<DocRecord[]>;
/**
 * How many documents a query returns (`limit` and `startAfter` included). From `IDBIndex.count`
 * when the ranges hold exactly the matching documents.
 * @param {IDBDatabase} db
 * @param {Prepared} q
 * @returns {Promise<number>}
 */
export declare function countQuery(db: IDBDatabase, q: Prepared): Promise<number>;

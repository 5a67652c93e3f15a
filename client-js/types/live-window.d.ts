export type Prepared = import('./core/plan.js').Prepared;
export type DocRecord = import('./core/records.js').DocRecord;
export declare class Window {
    #private;
    q: import("./core/plan.js").Prepared;
    /** how many documents `reset` expects (null: all) */
    size: number | null;
    /** @type {object[]} the window, in order (never changed in place: a patch makes a new array) */
    docs: object[];
    /** @type {Map<string, object>} id -> document of the window */
    held: Map<string, object>;
    /** @type {Set<string>} ids of the window with pending writes */
    pend: Set<string>;
    /** @type {object | null} the last document read, when unread matching ones may follow it */
    bound: object | null;
    /** @param {Prepared} q @param {number} [spare] documents read beyond a limit */
    constructor(q: Prepared, spare?: number);
    /**
     * Does a document (null: deleted) belong in the window.
     * @param {object | null | undefined} doc
     */
    keeps(doc: object | null | undefined): boolean;
    /**
     * The window from a fresh read (at most `size` records, in order). Documents equal to the ones
     * held keep their object.
     * @param {DocRecord[]} recs
     */
    reset(recs: DocRecord[]): void;
    /**
     * Apply the current records of changed documents (undefined: no record).
     * @param {Map<string, DocRecord | undefined>} recs
     * @returns {boolean} false: the window cannot answer exactly, read it again
     */
    patch(recs: Map<string, DocRecord | undefined>): boolean;
    /**
     * The query's result, and whether one of its documents has pending writes.
     * @returns {{docs: object[], pending: boolean}}
     */
    result(): {
        docs: object[];
        pending: boolean;
    };
}

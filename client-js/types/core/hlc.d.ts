/**
 * Hybrid logical clock values in the hub's format: `(ms << 16) | counter`, as bigint.
 * Pure functions; the caller passes the wall clock and keeps the last value.
 */
/**
 * Next clock value for a local event: never below the wall clock, always above `last`.
 * @param {bigint} last last value issued or observed
 * @param {number} nowMs wall clock in ms
 * @returns {bigint}
 */
export declare function hlcNext(last: bigint, nowMs: number): bigint;
/**
 * Fold a remote clock value (a document version) into the local clock. A value more than about
 * a century ahead of the wall clock is not followed: no hub issues one, and once followed (the
 * clock is stored) every later local `ts` would be out of the int64 range the hub accepts.
 * @param {bigint} last
 * @param {bigint} remote
 * @param {number} [nowMs] wall clock in ms (default: no limit)
 * @returns {bigint}
 */
export declare function hlcObserve(last: bigint, remote: bigint, nowMs?: number): bigint;
/**
 * Physical part (ms) of a clock value.
 * @param {bigint} value
 * @returns {number}
 */
export declare function hlcMs(value: bigint): number;

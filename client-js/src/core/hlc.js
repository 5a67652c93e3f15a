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
export function hlcNext(last, nowMs) {
  const wall = BigInt(Math.floor(nowMs)) << 16n
  return wall > last ? wall : last + 1n
}

/**
 * Fold a remote clock value (a document version) into the local clock. A value more than about
 * a century ahead of the wall clock is not followed: no hub issues one, and once followed (the
 * clock is stored) every later local `ts` would be out of the int64 range the hub accepts.
 * @param {bigint} last
 * @param {bigint} remote
 * @param {number} [nowMs] wall clock in ms (default: no limit)
 * @returns {bigint}
 */
export function hlcObserve(last, remote, nowMs = Infinity) {
  return remote > last && hlcMs(remote) < nowMs + 3.2e12 ? remote : last
}

/**
 * Physical part (ms) of a clock value.
 * @param {bigint} value
 * @returns {number}
 */
export function hlcMs(value) {
  return Number(value >> 16n)
}

/**
 * Reconnect delay with exponential growth and full jitter.
 *
 * The ceiling doubles with each failed attempt (`min * 2^step`) up to `max`; the delay is a
 * uniformly random point below that ceiling, so many clients dropped at once do not return at once.
 *
 * @param {number} step failed attempts so far (0 for the first retry)
 * @param {number} min base delay in ms
 * @param {number} max largest delay in ms
 * @param {() => number} random uniform in [0, 1)
 * @returns {number} delay in ms, 0 <= delay < min(max, min * 2^step) (0 when that ceiling is 0)
 */
export declare function backoff(step: number, min: number, max: number, random: () => number): number;
/**
 * Delay before sync tries again after pausing on a full disk (quota): never shorter than `max`
 * (the largest reconnect delay), then growing to 31 × `max` (20 s to ~10 min with the defaults).
 * @param {number} step pauses in a row so far
 * @param {number} max the reconnect backoff's largest delay in ms
 * @param {() => number} random
 * @returns {number}
 */
export declare const pauseDelay: (step: number, max: number, random: () => number) => number;

/** Largest margin kept before expiry (ms). */
export declare const REFRESH_MARGIN = 60000;
/** Shortest delay before a proactive refresh (ms). */
export declare const REFRESH_MIN = 1000;
/**
 * The `exp` claim of a JWS compact token, read without verifying anything (the hub verifies).
 * @param {string | null | undefined} token
 * @returns {number | null} Unix seconds, null when the token is not a JWT or has no numeric `exp`
 */
export declare function jwtExp(token: string | null | undefined): number | null;
/**
 * How long to wait before refreshing a token that expires at `exp`. The margin before expiry is
 * 10 % of the remaining lifetime, at most `REFRESH_MARGIN`, plus up to half of it again as jitter
 * (so tabs and clients holding tokens minted together spread their refreshes).
 * @param {number | null} exp Unix seconds; null = never expires
 * @param {number} now ms
 * @param {() => number} random uniform in [0, 1)
 * @returns {number | null} ms from now, null = no proactive refresh (no expiry, already expired
 *   by our clock, or too close to expiry for a refresh to land)
 */
export declare function refreshDelay(exp: number | null, now: number, random: () => number): number | null;
/**
 * When to try again after the hub refused a refresh (`error` 4010): exponential backoff with
 * jitter, but only while the current token is still valid; after its expiry the hub closes with
 * 4511 and the reconnect (which fetches a new token) takes over.
 * @param {number} step refused refreshes so far in a row (0 for the first retry)
 * @param {number | null} exp Unix seconds of the token still in force; null = never expires
 * @param {number} now ms
 * @param {number} min backoff base (ms)
 * @param {number} max backoff ceiling (ms)
 * @param {() => number} random
 * @returns {number | null} ms from now, null = stop retrying
 */
export declare function refreshRetryDelay(step: number, exp: number | null, now: number, min: number, max: number, random: () => number): number | null;

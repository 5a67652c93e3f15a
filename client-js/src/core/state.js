/**
 * Connection status machine and close-code policy. Pure data and functions.
 *
 * ```
 * offline --connect--> connecting --welcome--> syncing --all subs synced--> live
 *    ^                     |                      ^  |                       |
 *    +------- close -------+---------- close -----+--+------ resync ---------+
 *
 * connecting, syncing, live --4010 close, UnauthorizedError--> unauthorized --reconnect()--> connecting
 * connecting, syncing, live --quota exceeded applying hub changes--> paused --reconnect(), timer--> connecting
 * ```
 * `unauthorized`: sync stopped until `reconnect()` (the user has to sign in again). `paused`: the
 * disk is full; sync waits for `reconnect()` (space freed) or a long timer.
 */

/** @typedef {'offline' | 'connecting' | 'syncing' | 'live' | 'unauthorized' | 'paused'} Status */

/** @type {Readonly<Record<Status, readonly Status[]>>} allowed transitions (the runtime does not consult them: `PURE` lets bundles drop them) */
export const TRANSITIONS = /* @__PURE__ */ Object.freeze({
  offline: ['connecting'],
  connecting: ['syncing', 'offline', 'unauthorized', 'paused'],
  syncing: ['live', 'offline', 'unauthorized', 'paused'],
  live: ['syncing', 'offline', 'unauthorized', 'paused'],
  unauthorized: ['connecting', 'offline'],
  paused: ['connecting', 'offline'],
})

/**
 * @param {Status} from
 * @param {Status} to
 * @returns {boolean}
 */
export function canTransition(from, to) {
  return TRANSITIONS[from].includes(to)
}

/**
 * Status to show for a connected session.
 * @param {boolean} welcomed `welcome` received
 * @param {number} syncing subscriptions still catching up
 * @returns {Status}
 */
export function sessionStatus(welcomed, syncing) {
  return !welcomed ? 'connecting' : syncing > 0 ? 'syncing' : 'live'
}

/**
 * What to do after the socket closed.
 * 4010 from the hub: the token was refused, stop until the app signs the user in again
 * (`unauthorized`). Other 4000–4499: a bug or a policy decision, stop. 4500 (going away): reconnect at
 * once. Anything else (4501–4999, 1000, 1001, 1006, ...): reconnect with backoff; this includes
 * 4511 token_expired (the `token` option, when a function, is called again on the reconnect, so
 * the app hands out a fresh token), 4529 rate_limited, 4531 too_many_connections and 4532
 * overloaded.
 * @param {number} code close code reported by the socket
 * @returns {'unauthorized' | 'stop' | 'now' | 'retry'}
 */
export function closeAction(code) {
  if (code === 4010) return 'unauthorized'
  if (code >= 4000 && code < 4500) return 'stop'
  if (code === 4500) return 'now'
  return 'retry'
}

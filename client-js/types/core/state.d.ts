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
export type Status = 'offline' | 'connecting' | 'syncing' | 'live' | 'unauthorized' | 'paused';
/** @typedef {'offline' | 'connecting' | 'syncing' | 'live' | 'unauthorized' | 'paused'} Status */
/** @type {Readonly<Record<Status, readonly Status[]>>} allowed transitions (the runtime does not consult them: `PURE` lets bundles drop them) */
export declare const TRANSITIONS: Readonly<Record<Status, readonly Status[]>>;
/**
 * @param {Status} from
 * @param {Status} to
 * @returns {boolean}
 */
export declare function canTransition(from: Status, to: Status): boolean;
/**
 * Status to show for a connected session.
 * @param {boolean} welcomed `welcome` received
 * @param {number} syncing subscriptions still catching up
 * @returns {Status}
 */
export declare function sessionStatus(welcomed: boolean, syncing: number): Status;
/**
 * What to do after the socket closed.
 * 4010 from the hub: the token was refused, stop until the app signs the user in again
 * (`unauthorized`). Other 4000–4499: a bug or a policy decision, stop. 4500 (going away): reconnect at
 * once. Anything else (4501–4999, 1000, 1001, 1006, ...): reconnect with backoff; this includes
 * 4511 token_expired (the `token` option, when a function, is called again on the reconnect, so
 * the app hands out a fresh token), 4529 rate_limited and 4531 too_many_connections.
 * @param {number} code close code reported by the socket
 * @returns {'unauthorized' | 'stop' | 'now' | 'retry'}
 */
export declare function closeAction(code: number): 'unauthorized' | 'stop' | 'now' | 'retry';

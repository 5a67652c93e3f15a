/**
 * Ask a `token` function for a token.
 * @param {() => Promise<string | null>} t
 * @returns {Promise<string | import('./types.js').SyncError>} the token, or the error to report
 *   when it threw, rejected or gave nothing (`unauthorized`: it threw `UnauthorizedError`)
 */
export declare function getToken(t: () => Promise<string | null>): Promise<string | import('./types.js').SyncError>;
export type Session = {
    /**
     * connection generation; a change makes timers and answers stale
     */
    gen: number;
    /**
     * expiry (Unix s) of the token in force, when known; `plan` updates it
     */
    exp: number | null;
    /**
     * the hub answered `hello` on this connection
     */
    welcomed: boolean;
    sock: import('./transport-ws.js').Socket | null;
    /**
     * collections whose subscription the hub ended
     */
    ended: () => string[];
    /**
     * reconnect at once
     */
    kick: () => void;
    /**
     * stop until `reconnect()`
     */
    halt: (err: import('./types.js').SyncError, status: import('./core/state.js').Status) => void;
    h: {
        emit: import('./sync.js').Emit;
    };
    o: import('./client.js').Options;
};
/**
 * @typedef {object} Session the connection the refresh works on (the `Syncer`), read live
 * @property {number} gen connection generation; a change makes timers and answers stale
 * @property {number | null} exp expiry (Unix s) of the token in force, when known; `plan` updates it
 * @property {boolean} welcomed the hub answered `hello` on this connection
 * @property {import('./transport-ws.js').Socket | null} sock
 * @property {() => string[]} ended collections whose subscription the hub ended
 * @property {() => void} kick reconnect at once
 * @property {(err: import('./types.js').SyncError, status: import('./core/state.js').Status) => void} halt stop until `reconnect()`
 * @property {{emit: import('./sync.js').Emit}} h
 * @property {import('./client.js').Options} o
 */
export declare class TokenRefresh {
    #private;
    o: import("./client.js").Options;
    s: Session;
    /** @param {Session} s */
    constructor(s: Session);
    /** Plan the proactive refresh of a token expiring at `exp` (Unix s; null = never). @param {number | null} exp */
    plan(exp: number | null): void;
    /**
     * Get a new token from the `token` function and send it in `auth` on the open socket.
     * @param {boolean} [forced] `refreshToken()`: collections the hub had ended are subscribed again once accepted
     * @returns {Promise<boolean>} true once the hub accepted it (`authed`)
     */
    refresh(forced?: boolean): Promise<boolean>;
    /**
     * The hub accepted the token (`authed`).
     * @param {number | null} exp its expiry
     * @returns {string[]} collections to subscribe again (a forced refresh's)
     */
    accepted(exp: number | null): string[];
    /**
     * An `error` frame: when it refuses the pending `auth` (4010, no `ref`), the previous token
     * stays in force until it expires; retry until then.
     * @param {number} code
     * @param {number | null} ref
     * @param {string} msg
     * @returns {boolean} the error was the refresh's
     */
    refused(code: number, ref: number | null, msg: string): boolean;
    /** The connection is gone: no timer, the pending `auth` fails. */
    reset(): void;
    stop(): void;
}

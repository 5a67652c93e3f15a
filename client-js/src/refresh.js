/**
 * In-band token refresh for the connection the `Syncer` holds: plan it from the token's expiry,
 * call the `token` function, send `auth`, settle on `authed` or `error` 4010, retry with backoff.
 * The timing rules are the pure functions of `core/refresh.js`; time and timers come from the
 * client options.
 */
import { refreshDelay, refreshRetryDelay } from './core/refresh.js'
import { syncError, tokenOutcome } from './core/errors.js'

/**
 * Ask a `token` function for a token.
 * @param {() => Promise<string | null>} t
 * @returns {Promise<string | import('./types.js').SyncError>} the token, or the error to report
 *   when it threw, rejected or gave nothing (`unauthorized`: it threw `UnauthorizedError`)
 */
export async function getToken(t) {
  try {
    return tokenOutcome(await t())
  } catch (e) {
    return tokenOutcome(null, e ?? 'threw')
  }
}

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

export class TokenRefresh {
  /** refused refreshes in a row */
  #step = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined
  /** @type {Promise<boolean> | null} the `auth` awaiting its answer */
  #authP = null
  /** @type {(ok: boolean) => void} */
  #authDone = () => {}
  /** @type {string[] | null} collections to subscribe again once a forced refresh is accepted */
  #resub = null
  /** connection (`gen`) that `refreshToken()` found still setting up: its token may predate the call */
  #staleGen = -1

  /** @param {Session} s */
  constructor(s) {
    this.o = s.o
    this.s = s
  }

  /** Plan the proactive refresh of a token expiring at `exp` (Unix s; null = never). @param {number | null} exp */
  plan(exp) {
    this.s.exp = exp
    this.#step = 0
    if (this.#staleGen === this.s.gen) {
      // refreshToken() came after this connection fetched its token: send the new one now
      this.#staleGen = -1
      this.refresh(true)
      return
    }
    const now = this.o.now()
    const d = typeof this.o.token === 'function' ? refreshDelay(exp, now, this.o.random) : null
    this.#due(d === null ? 0 : now + d)
  }

  #retry() {
    const now = this.o.now()
    const d = refreshRetryDelay(this.#step++, this.s.exp, now, this.o.backoffMin, this.o.backoffMax, this.o.random)
    this.#due(d === null ? 0 : now + d)
  }

  /** (Re)arm the refresh timer for `at` (ms; 0 = none), in steps a timer can hold. @param {number} at */
  #due(at) {
    const gen = this.s.gen
    this.o.timers.clearTimeout(this.#timer)
    if (at) {
      this.#timer = this.o.timers.setTimeout(
        () => gen === this.s.gen && (this.o.now() < at ? this.#due(at) : this.refresh()),
        Math.min(at - this.o.now(), 2 ** 31 - 1)
      )
    }
  }

  /**
   * Get a new token from the `token` function and send it in `auth` on the open socket.
   * @param {boolean} [forced] `refreshToken()`: collections the hub had ended are subscribed again once accepted
   * @returns {Promise<boolean>} true once the hub accepted it (`authed`)
   */
  refresh(forced = false) {
    const t = this.o.token
    // Asked while a refresh is in flight: its token may have been fetched before this call (the
    // user's claims changed in between: chaos 1/836). Another refresh follows it.
    if (this.#authP) return forced ? this.#authP.then(() => this.refresh(true)) : this.#authP
    if (typeof t !== 'function' || !this.s.welcomed) {
      if (forced && typeof t === 'function' && this.s.sock) this.#staleGen = this.s.gen
      if (forced) this.s.kick()
      return Promise.resolve(false)
    }
    const gen = this.s.gen
    // collections ended before this refresh (not those its own `unsub`s end)
    if (forced) this.#resub = this.s.ended()
    this.o.timers.clearTimeout(this.#timer)
    this.#authP = new Promise((res) => (this.#authDone = res))
    const p = this.#authP
    ;(async () => {
      const token = await getToken(t)
      if (gen !== this.s.gen) return
      if (typeof token === 'string') return this.s.sock?.send({ t: 'auth', token })
      this.#settle(false)
      // `UnauthorizedError`: the user signed out, stop syncing
      if (!token.retry) return this.s.halt(token, 'unauthorized')
      this.s.h.emit('error', token)
      this.#retry()
    })()
    return p
  }

  /**
   * The hub accepted the token (`authed`).
   * @param {number | null} exp its expiry
   * @returns {string[]} collections to subscribe again (a forced refresh's)
   */
  accepted(exp) {
    const resub = this.#resub || []
    this.#resub = null
    this.#settle(true)
    this.plan(exp)
    return resub
  }

  /**
   * An `error` frame: when it refuses the pending `auth` (4010, no `ref`), the previous token
   * stays in force until it expires; retry until then.
   * @param {number} code
   * @param {number | null} ref
   * @param {string} msg
   * @returns {boolean} the error was the refresh's
   */
  refused(code, ref, msg) {
    if (code !== 4010 || ref !== null || !this.#authP) return false
    this.s.h.emit('error', syncError('auth', code, msg, true))
    this.#settle(false)
    this.#retry()
    return true
  }

  /** The connection is gone: no timer, the pending `auth` fails. */
  reset() {
    this.stop()
    this.#settle(false)
    this.#resub = null
  }

  stop() {
    this.o.timers.clearTimeout(this.#timer)
  }

  /** Answer the pending `auth`. @param {boolean} ok */
  #settle(ok) {
    if (this.#authP) {
      this.#authP = null
      this.#authDone(ok)
    }
  }
}

/**
 * The session engine run by the tab that holds the connection: connect, hello, the queue of hub
 * frames and their dispatch, liveness and reconnect. Three parts of the session live in their
 * own modules and read its state (`gen`, `welcomed`, `sock`) live: the subscriptions
 * (`subscriptions.js`: `sub`, pages, `synced`, `chg`), the outbox pump (`pump.js`: sending
 * writes, applying acks) and the token refresh (`refresh.js`). Time, timers, randomness, the
 * WebSocket constructor and the store are injected through the host.
 */
import { backoff, pauseDelay } from './core/backoff.js'
import { closeAction, sessionStatus } from './core/state.js'
import { openSocket } from './transport-ws.js'
import { TokenRefresh, getToken } from './refresh.js'
import { jwtExp } from './core/refresh.js'
import { OutboxPump } from './pump.js'
import { Subscriptions } from './subscriptions.js'
import { syncError, storeError } from './core/errors.js'

/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./core/state.js').Status} Status */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/** @typedef {import('./types.js').SyncEventMap} SyncEventMap */
/** @typedef {<K extends keyof SyncEventMap>(type: K, detail: SyncEventMap[K]) => void} Emit */
/**
 * @typedef {object} SyncHost what the engine needs from the client
 * @property {Store} store
 * @property {string} clientId
 * @property {import('./client.js').Options} o
 * @property {(s: Status) => void} setStatus
 * @property {(changes: StoredChange[]) => void} remote changes applied from the hub
 * @property {Emit} emit
 * @property {(done: import('./types.js').WriteResult[]) => void} acked outbox entries were answered (final verdicts)
 * @property {(ver: bigint) => void} observe
 * @property {() => string[]} colls
 * @property {(m: ServerMessage) => unknown} ext every frame from the hub, awaited; truthy: taken (presence.js, subsets.js)
 */

export class Syncer {
  #attempt = 0
  /** quota pauses in a row */
  #pauses = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer = undefined
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #liveTimer = undefined
  #pingMs = 0
  /** @type {ServerMessage[]} frames waiting to be applied */
  #queue = []
  #running = false
  /** @type {TokenRefresh} */
  #auth
  /** @type {OutboxPump} */
  #out
  /** @type {Subscriptions} */
  #subs

  /** @param {SyncHost} host */
  constructor(host) {
    this.h = host
    this.o = host.o
    /** @type {import('./transport-ws.js').Socket | null} */
    this.sock = null
    /** connection generation: bumped on connect and close, so late callbacks of an old socket do nothing */
    this.gen = 0
    this.stopped = false
    this.welcomed = false
    /** @type {number | null} expiry (Unix s) of the token in force, when known: from the token sent in `hello`, then from `authed` */
    this.exp = null
    this.#auth = new TokenRefresh(this)
    this.#out = new OutboxPump(this)
    this.#subs = new Subscriptions(this, this.#out, () => this.#status())
  }

  /** Start (or restart after a fatal close). */
  start() {
    this.o.timers.clearTimeout(this.#retryTimer)
    this.stopped = false
    this.#attempt = 0
    this.#connect()
  }

  /** Collections whose subscription the hub ended on this connection. */
  ended() {
    return this.#subs.ended()
  }

  /** Reconnect at once if disconnected; probe the socket if connected (tab woke up, network back). */
  kick() {
    if (this.stopped) return
    if (!this.sock) {
      this.o.timers.clearTimeout(this.#retryTimer)
      this.#connect()
    } else if (this.welcomed) {
      this.sock.send({ t: 'ping', n: 0 })
    }
  }

  /** The network went away: drop the socket now instead of waiting for timeouts. */
  drop() {
    this.sock?.close(1000, 'offline')
  }

  /** Stop until `start()`: close the socket now; nothing of this session runs on. @param {string} [reason] */
  stop(reason = 'client closed') {
    this.stopped = true
    this.o.timers.clearTimeout(this.#retryTimer)
    const sock = this.sock
    this.#teardown()
    sock?.close(1000, reason)
  }

  /**
   * Stop until `reconnect()`: report `err` and show `status`.
   * @param {import('./types.js').SyncError} err
   * @param {Status} status
   * @param {string} [reason] close reason for an open socket
   */
  halt(err, status, reason) {
    this.stop(reason)
    this.h.emit('error', err)
    this.h.setStatus(status)
  }

  async #connect() {
    if (this.stopped || this.sock) return
    const gen = ++this.gen
    this.h.setStatus('connecting')
    const t = this.o.token
    // a token function that fails is asked again later: never connect without its token
    const token = typeof t === 'function' ? await getToken(t) : t
    if (gen !== this.gen || this.stopped) return
    if (token !== null && typeof token === 'object') {
      if (!token.retry) return this.halt(token, 'unauthorized')
      this.h.emit('error', token)
      this.h.setStatus('offline')
      return this.#later(false)
    }
    this.exp = jwtExp(token)
    this.sock = openSocket(this.o.WebSocket, this.o.url, this.o.limits, {
      open: () => {
        this.sock?.send({ t: 'hello', v: [1], client: this.h.clientId, token, app: this.o.app, now: this.o.now(), features: ['batch'] })
      },
      message: (m) => this.#receive(gen, m),
      violation: (e) => this.h.emit('error', syncError('protocol', e.code, e, true)),
      close: (code, reason, byClient) => this.#closed(gen, code, reason, byClient),
    })
    this.#arm(this.o.connectTimeout)
  }

  /** Liveness: no frame for `ms` closes the socket. @param {number} ms */
  #arm(ms) {
    this.o.timers.clearTimeout(this.#liveTimer)
    // a timer holds at most 2^31 - 1 ms; a longer delay would fire at once
    this.#liveTimer = this.o.timers.setTimeout(() => this.sock?.close(1000, 'timeout'), Math.min(ms, 2 ** 31 - 1))
  }

  /**
   * @param {number} gen
   * @param {number} code
   * @param {string} reason
   * @param {boolean} byClient
   */
  #closed(gen, code, reason, byClient) {
    if (gen !== this.gen) return
    this.#teardown()
    const action = byClient ? 'retry' : closeAction(code)
    if (action === 'unauthorized') return this.halt(syncError('unauthorized', code, reason, false, { fatal: true }), 'unauthorized')
    this.h.setStatus('offline')
    if (action === 'stop') return this.halt(syncError('closed', code, reason, false, { fatal: true }), 'offline')
    this.#later(action === 'now')
  }

  /** Connect again, at once or after the backoff delay. @param {boolean} now */
  #later(now) {
    if (now) this.#attempt = 0
    const delay = now ? 0 : backoff(this.#attempt++, this.o.backoffMin, this.o.backoffMax, this.o.random)
    this.#retryTimer = this.o.timers.setTimeout(() => this.#connect(), delay)
  }

  /** Forget the connection: later callbacks of its socket, timers and frames do nothing. */
  #teardown() {
    this.o.timers.clearTimeout(this.#liveTimer)
    this.#auth.reset()
    this.sock = null
    this.welcomed = false
    this.#out.reset()
    this.#subs.clear()
    this.#queue = []
    this.gen++
  }

  /**
   * @param {number} gen
   * @param {ServerMessage} m
   */
  #receive(gen, m) {
    if (gen !== this.gen) return
    if (this.#pingMs) this.#arm(2 * this.#pingMs)
    if (m.t === 'ping') {
      this.sock?.send({ t: 'pong', n: m.n })
      return
    }
    if (m.t === 'pong') return
    this.#queue.push(m)
    if (!this.#running) this.#drain(gen)
  }

  /**
   * Apply queued frames one after another. Consecutive `chg` frames of one collection and
   * consecutive `ack` frames are merged so a burst costs one transaction, not one per frame.
   * @param {number} gen
   */
  async #drain(gen) {
    this.#running = true
    try {
      while (this.#queue.length && gen === this.gen) {
        const q = /** @type {any[]} */ (this.#queue)
        let m = q.shift()
        // a run of `chg` of one collection (or of `ack`) becomes its last frame with all their changes (results)
        const k = m.t === 'chg' ? 'changes' : m.t === 'ack' && 'results'
        if (k) {
          const all = [...m[k]]
          for (let n = q[0]; n?.t === m.t && n.coll === m.coll; n = q[0]) {
            all.push(...n[k])
            m = { ...q.shift(), [k]: all }
          }
        }
        await this.#handle(m)
      }
    } catch (e) {
      // The store refused the change (quota, closed database): nothing half-applied was kept,
      // the cursor did not move. Report, drop the socket and come back later; on a full disk
      // (which a reconnect does not cure) pause until `reconnect()` or a long timer.
      if (gen === this.gen) {
        const err = storeError(e, true)
        if (err.kind === 'quota') {
          this.halt(err, 'paused', 'quota')
          this.#retryTimer = this.o.timers.setTimeout(() => this.start(), pauseDelay(this.#pauses++, this.o.backoffMax, this.o.random))
        } else {
          this.h.emit('error', err)
          this.sock?.close(1000, 'store error')
        }
      }
    } finally {
      this.#running = false
      // a new connection's frames (its `welcome`) may have queued while this run finished a frame
      // of the old one: nothing else would start them
      if (gen !== this.gen && this.#queue.length) this.#drain(this.gen)
    }
  }

  /**
   * Apply one frame from the hub (pings and pongs are answered in `receive`).
   * @param {ServerMessage} m
   */
  async #handle(m) {
    // rooms (presence.js) and query subscriptions (subsets.js) take their frames (truthy: theirs,
    // a promise the queue waits for), and see `welcome`; no await for the others: `welcome` must
    // run in this tick, before a close can end the connection it belongs to
    const taken = this.h.ext(m)
    if (taken) return taken
    switch (m.t) {
      case 'welcome':
        return this.#welcome(m)
      case 'page':
        return this.#subs.page(m)
      case 'synced':
        return this.#subs.synced(m)
      case 'resync':
        return this.#subs.resync(m)
      case 'chg':
        return this.#subs.chg(m)
      case 'ack':
        for (const r of m.results) this.h.observe(r.ver)
        return this.#out.ack(m.results)
      case 'error':
        if (this.#subs.refused(m)) return
        if (!this.#auth.refused(m.code, m.ref, m.msg)) this.h.emit('error', syncError('hub', m.code, m.msg, false))
        return
      case 'unsub':
        return this.#subs.unsub(m)
      case 'authed':
        this.#subs.resubscribe(this.#auth.accepted(m.exp))
    }
  }

  /** @param {Extract<ServerMessage, {t: 'welcome'}>} m */
  async #welcome(m) {
    const u = this.o.user
    if (u != null && m.user !== undefined && m.user !== u) {
      // this database (and its outbox) is another user's: send nothing, keep it as it is
      return this.halt(syncError('user-mismatch', 0, 'the hub authenticated another user', false, { user: m.user, fatal: true }), 'offline', 'user-mismatch')
    }
    this.welcomed = true
    this.#pingMs = m.ping_ms
    this.#out.limits(m.max_batch, m.max_frame)
    // follow the hub: what its frames may hold, what `put` checks
    this.sock?.follow(m.doc_limits)
    this.o.docLimits = m.doc_limits
    this.#arm(2 * m.ping_ms)
    this.#auth.plan(this.exp)
    await Promise.all(this.h.colls().map((c) => this.subscribe(c)))
    this.#status()
    this.#out.run()
  }

  /**
   * `refreshToken()`: a new token now, without reconnecting.
   * @returns {Promise<boolean>} true once the hub accepted it
   */
  refreshToken() {
    return this.#auth.refresh(true)
  }

  #status() {
    const s = sessionStatus(this.welcomed, this.#subs.syncing())
    if (s === 'live') this.#attempt = this.#pauses = 0
    this.h.setStatus(s)
  }

  /** @param {string} coll */
  subscribe(coll) {
    return this.#subs.subscribe(coll)
  }

  /** Send what the outbox holds (a local write was queued). */
  pump() {
    this.#out.run()
  }
}

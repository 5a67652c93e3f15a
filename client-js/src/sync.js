/**
 * The session engine run by the tab that holds the connection: connect, hello, subscriptions,
 * applying hub frames, replaying the outbox, liveness and reconnect. Time, timers, randomness,
 * the WebSocket constructor and the store are injected through the host.
 */
import { backoff } from './core/backoff.js'
import { closeAction, sessionStatus } from './core/state.js'
import { planBatch, toMutation, freeSlots } from './core/outbox-logic.js'
import { openSocket } from './transport-ws.js'
import { sameDoc } from './core/records.js'
import { docTag } from './core/keys.js'
import { jwtExp, refreshDelay, refreshRetryDelay } from './core/refresh.js'

/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./core/state.js').Status} Status */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/**
 * @typedef {object} SyncHost what the engine needs from the client
 * @property {Store} store
 * @property {string} clientId
 * @property {Required<import('./client.js').SyncClientOptions>} o
 * @property {(s: Status) => void} setStatus
 * @property {(changes: StoredChange[]) => void} remote changes applied from the hub
 * @property {(type: string, detail: object) => void} emit
 * @property {() => void} acked outbox entries were removed
 * @property {(ver: bigint) => void} observe
 * @property {() => string[]} colls
 */
/** @typedef {{id: number, syncing: boolean, seen: Set<string>, done: number, ended?: boolean}} Sub */

export class Syncer {
  /** @param {SyncHost} host */
  constructor(host) {
    this.h = host
    this.o = host.o
    /** @type {import('./transport-ws.js').Socket | null} */
    this.sock = null
    this.gen = 0
    this.attempt = 0
    this.stopped = false
    this.welcomed = false
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.liveTimer = undefined
    this.pingMs = 0
    this.maxBatch = 1
    this.maxFrame = this.o.limits.maxFrame
    /** @type {Map<string, Sub>} */
    this.subs = new Map()
    this.reqId = 0
    /** @type {{last: number, entries: import('./core/records.js').OutboxEntry[]}[]} batches awaiting their ack */
    this.inflight = []
    this.sentSeq = 0
    /** @type {Map<string, bigint>} per document (`docTag`): a version the store holds at least, from acks of this connection */
    this.known = new Map()
    this.pumping = false
    this.pumpAgain = false
    /** @type {ServerMessage[]} frames waiting to be applied */
    this.queue = []
    this.running = false
    // in-band token refresh
    /** @type {number | null} expiry (Unix s) of the token in force, when known */
    this.exp = null
    this.refreshStep = 0
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.refreshTimer = undefined
    /** @type {Promise<boolean> | null} the `auth` awaiting its answer */
    this.authP = null
    /** @type {(ok: boolean) => void} */
    this.authDone = () => {}
    /** @type {string[] | null} collections to subscribe again once a forced refresh is accepted */
    this.resub = null
  }

  /** Start (or restart after a fatal close). */
  start() {
    this.stopped = false
    this.attempt = 0
    this.connect()
  }

  /** Reconnect at once if disconnected; probe the socket if connected (tab woke up, network back). */
  kick() {
    if (this.stopped) return
    if (!this.sock) {
      this.o.timers.clearTimeout(this.retryTimer)
      this.connect()
    } else if (this.welcomed) {
      this.sock.send({ t: 'ping', n: 0 })
    }
  }

  /** The network went away: drop the socket now instead of waiting for timeouts. */
  drop() {
    this.sock?.close(1000, 'offline')
  }

  stop() {
    this.stopped = true
    this.o.timers.clearTimeout(this.retryTimer)
    this.o.timers.clearTimeout(this.refreshTimer)
    this.sock?.close(1000, 'client closed')
  }

  async connect() {
    if (this.stopped || this.sock) return
    const gen = ++this.gen
    this.h.setStatus('connecting')
    /** @type {string | null} */
    let token = null
    try {
      const t = this.o.token
      token = typeof t === 'function' ? await t() : t
    } catch (e) {
      this.h.emit('error', { kind: 'token', error: e })
    }
    if (gen !== this.gen || this.stopped) return
    this.exp = jwtExp(token)
    this.sock = openSocket(this.o.WebSocket, this.o.url, this.o.limits, {
      open: () => {
        this.sock?.send({ t: 'hello', v: [1], client: this.h.clientId, token, app: this.o.app })
      },
      message: (m) => this.receive(gen, m),
      violation: (e) => this.h.emit('error', { kind: 'protocol', code: e.code, error: e }),
      close: (code, reason, byClient) => this.closed(gen, code, reason, byClient),
    })
    this.arm(this.o.connectTimeout)
  }

  /** Liveness: no frame for `ms` closes the socket. @param {number} ms */
  arm(ms) {
    this.o.timers.clearTimeout(this.liveTimer)
    this.liveTimer = this.o.timers.setTimeout(() => this.sock?.close(1000, 'timeout'), ms)
  }

  /**
   * @param {number} gen
   * @param {number} code
   * @param {string} reason
   * @param {boolean} byClient
   */
  closed(gen, code, reason, byClient) {
    if (gen !== this.gen) return
    this.o.timers.clearTimeout(this.liveTimer)
    this.o.timers.clearTimeout(this.refreshTimer)
    this.settle(false)
    this.resub = null
    this.sock = null
    this.welcomed = false
    this.inflight = []
    this.sentSeq = 0
    this.known.clear()
    this.subs.clear()
    this.queue = []
    this.gen++
    this.h.setStatus('offline')
    if (this.stopped) return
    const action = byClient ? 'retry' : closeAction(code)
    if (action === 'stop') {
      this.stopped = true
      this.h.emit('error', { kind: 'closed', code, reason, fatal: true })
      return
    }
    if (action === 'now') this.attempt = 0
    const delay = action === 'now' ? 0 : backoff(this.attempt++, this.o.backoffMin, this.o.backoffMax, this.o.random)
    this.retryTimer = this.o.timers.setTimeout(() => this.connect(), delay)
  }

  /**
   * @param {number} gen
   * @param {ServerMessage} m
   */
  receive(gen, m) {
    if (gen !== this.gen) return
    if (this.pingMs) this.arm(2 * this.pingMs)
    if (m.t === 'ping') {
      this.sock?.send({ t: 'pong', n: m.n })
      return
    }
    if (m.t === 'pong') return
    this.queue.push(m)
    if (!this.running) this.drain(gen)
  }

  /**
   * Apply queued frames one after another. Consecutive `chg` frames of one collection and
   * consecutive `ack` frames are merged so a burst costs one transaction, not one per frame.
   * @param {number} gen
   */
  async drain(gen) {
    this.running = true
    try {
      while (this.queue.length && gen === this.gen) {
        let m = /** @type {ServerMessage} */ (this.queue.shift())
        const next = this.queue[0]
        if (m.t === 'chg') {
          const changes = [...m.changes]
          let cursor = m.cursor
          for (let n = this.queue[0]; n && n.t === 'chg' && n.coll === m.coll; n = this.queue[0]) {
            this.queue.shift()
            changes.push(...n.changes)
            cursor = n.cursor
          }
          m = { ...m, changes, cursor }
        } else if (m.t === 'ack' && next?.t === 'ack') {
          const results = [...m.results]
          for (let n = this.queue[0]; n && n.t === 'ack'; n = this.queue[0]) {
            this.queue.shift()
            results.push(...n.results)
          }
          m = { t: 'ack', results }
        }
        await this.handle(m)
      }
    } catch (e) {
      // The store refused the change (quota, closed database): nothing half-applied was kept,
      // the cursor did not move. Report, drop the socket and come back later.
      if (gen === this.gen) {
        this.h.emit('error', { kind: isQuota(e) ? 'quota' : 'store', error: e })
        this.sock?.close(1000, 'store error')
      }
    } finally {
      this.running = false
    }
  }

  /** @param {ServerMessage} m */
  async handle(m) {
    const { store } = this.h
    switch (m.t) {
      case 'welcome':
        this.welcomed = true
        this.pingMs = m.ping_ms
        this.maxBatch = m.max_batch
        this.maxFrame = Math.min(m.max_frame || Infinity, this.o.limits.maxFrame)
        this.arm(2 * m.ping_ms)
        this.plan(this.exp)
        await Promise.all(this.h.colls().map((c) => this.subscribe(c)))
        this.status()
        this.pump()
        return
      case 'page': {
        const sub = this.sub(m.coll, m.id)
        if (!sub) return
        for (const [id, ver] of m.changes) {
          this.h.observe(ver)
          sub.seen.add(id)
        }
        const changes = this.fresh(m.coll, m.changes)
        if (changes.length) this.h.remote(await store.applyRemote(m.coll, changes, null))
        sub.done = m.done
        this.h.emit('progress', { coll: m.coll, done: m.done, total: m.total })
        return
      }
      case 'synced': {
        const sub = this.sub(m.coll, m.id)
        if (!sub) return
        // a reset may delete documents: what `known` says about them no longer holds
        if (m.reset) this.known.clear()
        this.h.remote(await store.finishSync(m.coll, m.cursor, m.reset, sub.seen))
        sub.syncing = false
        sub.seen = new Set()
        this.h.emit('progress', { coll: m.coll, done: sub.done, total: sub.done })
        this.status()
        return
      }
      case 'resync': {
        const sub = this.subs.get(m.coll)
        if (!sub) return
        Object.assign(sub, { syncing: true, seen: new Set(), done: 0 })
        this.h.emit('resync', { coll: m.coll, reason: m.reason, mode: m.mode })
        this.status()
        return
      }
      case 'chg': {
        const sub = this.subs.get(m.coll)
        for (const [, ver] of m.changes) this.h.observe(ver)
        const changes = this.fresh(m.coll, m.changes)
        // only echoes: skip the transaction; the cursor catches up with the next change (replaying
        // a few changes after a reconnect is harmless, versions filter them)
        if (!changes.length && m.changes.length) return
        this.h.remote(await store.applyRemote(m.coll, changes, sub && !sub.syncing ? m.cursor : null))
        return
      }
      case 'ack': {
        for (const r of m.results) this.h.observe(r.ver)
        const top = Math.max(0, ...m.results.map((r) => r.seq))
        const sent = new Map()
        for (const b of this.inflight) if (b.last <= top) for (const e of b.entries) sent.set(e.seq, e)
        const a = await store.applyAcks(m.results, sent)
        while (this.inflight.length && this.inflight[0].last <= top) this.inflight.shift()
        if (this.known.size > 1e5) this.known.clear()
        for (const r of m.results) {
          const e = sent.get(r.seq)
          if (e && r.s !== 'error') this.known.set(docTag(e.c, e.id), r.ver)
        }
        this.h.remote(a.changes)
        for (const c of a.conflicts) this.h.emit('conflict', c)
        for (const f of a.failed) this.h.emit('error', { kind: 'mutation', ...f })
        this.h.acked()
        this.pump()
        return
      }
      case 'error': {
        for (const [coll, sub] of this.subs) {
          if (m.ref !== null && sub.id === m.ref) {
            this.end(sub, 'sub', coll, m.code, m.msg)
            return
          }
        }
        if (m.code === 4010 && m.ref === null && this.authP) {
          // refresh refused: the previous token stays in force until it expires; retry until then
          this.h.emit('error', { kind: 'auth', code: m.code, message: m.msg })
          this.settle(false)
          this.retryRefresh()
          return
        }
        this.h.emit('error', { kind: 'hub', code: m.code, message: m.msg })
        return
      }
      case 'unsub': {
        // the hub ended the subscription (4403: no longer readable after a refresh). Local
        // documents and pending writes stay; not re-subscribed on this connection until a
        // forced refresh (`refreshToken()`) is accepted.
        const sub = this.sub(m.coll, m.id)
        if (sub) this.end(sub, 'unsub', m.coll, m.code, m.msg)
        return
      }
      case 'authed': {
        const resub = this.resub || []
        this.resub = null
        this.settle(true)
        this.plan(m.exp)
        for (const coll of resub) {
          if (this.subs.get(coll)?.ended) {
            this.subs.delete(coll)
            this.subscribe(coll)
          }
        }
      }
    }
  }

  /**
   * The changes that may alter the store: without the echoes of our own writes, those still in
   * flight (the ack brings the same version and document) and those whose version an ack of this
   * connection already stored (the store would ignore them after a read per document).
   * @param {string} coll
   * @param {import('./core/messages.js').Change[]} changes
   */
  fresh(coll, changes) {
    /** @type {Map<string, import('./core/records.js').OutboxEntry>} */
    const mine = new Map()
    for (const b of this.inflight) for (const e of b.entries) if (e.c === coll) mine.set(e.id, e)
    return changes.filter(([id, ver, doc]) => {
      const e = mine.get(id)
      const k = this.known.get(docTag(coll, id))
      return !(e && sameDoc(e.doc, doc)) && !(k !== undefined && ver <= k)
    })
  }

  /**
   * A subscription refused or ended by the hub: stop waiting for it, report it.
   * @param {Sub} sub @param {string} kind @param {string} coll @param {number} code @param {string} message
   */
  end(sub, kind, coll, code, message) {
    sub.syncing = false
    sub.ended = true
    this.h.emit('error', { kind, coll, code, message })
    this.status()
  }

  /** Plan the proactive refresh of a token expiring at `exp` (Unix s; null = never). @param {number | null} exp */
  plan(exp) {
    this.exp = exp
    this.refreshStep = 0
    const now = this.o.now()
    const d = typeof this.o.token === 'function' ? refreshDelay(exp, now, this.o.random) : null
    this.due(d === null ? 0 : now + d)
  }

  retryRefresh() {
    const now = this.o.now()
    const d = refreshRetryDelay(this.refreshStep++, this.exp, now, this.o.backoffMin, this.o.backoffMax, this.o.random)
    this.due(d === null ? 0 : now + d)
  }

  /** (Re)arm the refresh timer for `at` (ms; 0 = none), in steps a timer can hold. @param {number} at */
  due(at) {
    const gen = this.gen
    this.o.timers.clearTimeout(this.refreshTimer)
    if (at) {
      this.refreshTimer = this.o.timers.setTimeout(
        () => gen === this.gen && (this.o.now() < at ? this.due(at) : this.refresh()),
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
    if (this.authP) return forced && !this.resub ? this.authP.then(() => this.refresh(true)) : this.authP
    if (typeof t !== 'function' || !this.welcomed) {
      if (forced) this.kick()
      return Promise.resolve(false)
    }
    const gen = this.gen
    // collections ended before this refresh (not those its own `unsub`s end)
    if (forced) this.resub = [...this.subs].filter(([, s]) => s.ended).map(([c]) => c)
    this.o.timers.clearTimeout(this.refreshTimer)
    this.authP = new Promise((res) => (this.authDone = res))
    const p = this.authP
    ;(async () => {
      let token = null
      try {
        token = await t()
      } catch (e) {
        this.h.emit('error', { kind: 'token', error: e })
      }
      if (gen !== this.gen) return
      if (token) this.sock?.send({ t: 'auth', token })
      else {
        this.settle(false)
        this.retryRefresh()
      }
    })()
    return p
  }

  /** Answer the pending `auth`. @param {boolean} ok */
  settle(ok) {
    if (this.authP) {
      this.authP = null
      this.authDone(ok)
    }
  }

  /**
   * The subscription a page/synced belongs to; older subscription ids are stale.
   * @param {string} coll
   * @param {number} id
   */
  sub(coll, id) {
    const sub = this.subs.get(coll)
    return sub && id >= sub.id ? sub : undefined
  }

  status() {
    let syncing = 0
    for (const s of this.subs.values()) if (s.syncing) syncing++
    const s = sessionStatus(this.welcomed, syncing)
    if (s === 'live') this.attempt = 0
    this.h.setStatus(s)
  }

  /** @param {string} coll */
  async subscribe(coll) {
    if (!this.welcomed || this.subs.has(coll)) return
    const id = ++this.reqId
    this.subs.set(coll, { id, syncing: true, seen: new Set(), done: 0 })
    this.status()
    const cursor = await this.h.store.cursor(coll)
    this.sock?.send({ t: 'sub', id, coll, cursor })
  }

  /** Send unsent outbox entries, a few batches at a time, in `seq` order. */
  async pump() {
    if (!this.welcomed || this.pumping) {
      this.pumpAgain = this.welcomed
      return
    }
    this.pumping = true
    const gen = this.gen
    try {
      while (freeSlots(this.inflight.length, this.o.maxInFlight) > 0) {
        const entries = await this.h.store.readOutbox(this.sentSeq, this.maxBatch)
        if (gen !== this.gen || !this.sock) return
        let batch = planBatch(entries, this.maxBatch, this.inflight.length === 0)
        if (!batch.length) break
        let frame = this.sock.encode({ t: 'mut', batch: batch.map(toMutation) })
        while (frame.byteLength > this.maxFrame - 64 && batch.length > 1) {
          batch = batch.slice(0, batch.length >> 1)
          frame = this.sock.encode({ t: 'mut', batch: batch.map(toMutation) })
        }
        this.sock.sendBytes(frame)
        const last = batch[batch.length - 1].seq
        this.inflight.push({ last, entries: batch })
        this.sentSeq = last
      }
    } catch (e) {
      if (gen === this.gen) {
        this.h.emit('error', { kind: 'store', error: e })
        this.sock?.close(1000, 'store error')
      }
    } finally {
      this.pumping = false
      if (this.pumpAgain) {
        this.pumpAgain = false
        this.pump()
      }
    }
  }
}

/** @param {unknown} e */
export function isQuota(e) {
  const n = /** @type {{name?: string} | null} */ (e)?.name
  return n === 'QuotaExceededError'
}

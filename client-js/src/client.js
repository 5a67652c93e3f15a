/**
 * `SyncClient`: the public face. Local reads and writes go to IndexedDB at once (each write and
 * its outbox entry in one transaction); the tab holding the connection lock runs the `Syncer`.
 * `Collection` (the per-collection API) lives in `collection.js`.
 */
import { openStore } from './store.js'
import { Collection } from './collection.js'
import { Syncer } from './sync.js'
import { syncError, stopError } from './core/errors.js'
import { Tabs } from './tabs.js'
import { hlcObserve } from './core/hlc.js'
import { DEFAULT_LIMITS } from './transport-ws.js'
import { DOC_LIMITS, OVERSIZE } from './core/limits.js'
import { toMutation } from './core/outbox-logic.js'

/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./types.js').Status} Status */
/** @typedef {import('./types.js').Change} Change */
/** @typedef {import('./types.js').SyncClientOptions} SyncClientOptions */
/** @typedef {import('./types.js').SyncEventMap} SyncEventMap */
/** @typedef {import('./types.js').WriteResult} WriteResult */
/** @typedef {import('./types.js').WriteHandle} WriteHandle */
/** @typedef {import('./types.js').PendingWrite} PendingWrite */
/** @typedef {import('./types.js').SyncError} SyncError */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {Required<Omit<SyncClientOptions, 'env'>> & Required<import('./types.js').Env>} Options the options with the platform (`env`) folded in */
/**
 * @template {keyof SyncEventMap} K
 * @typedef {((ev: CustomEvent<SyncEventMap[K]>) => void) | EventListenerObject | null} Listener
 */
/**
 * An EventTarget whose listeners are typed by `SyncEventMap` (a type only: no code of its own).
 * @typedef {Omit<EventTarget, 'addEventListener' | 'removeEventListener'> & {
 *   addEventListener<K extends keyof SyncEventMap>(type: K, listener: Listener<K>, options?: boolean | AddEventListenerOptions): void,
 *   removeEventListener<K extends keyof SyncEventMap>(type: K, listener: Listener<K>, options?: boolean | EventListenerOptions): void,
 * }} SyncEventTarget
 */

const g = /** @type {any} */ (globalThis)
/** What other tabs get of an error: all but its `cause` (an exception need not survive postMessage). @param {any} e */
const bare = (e) => e && { ...e, cause: undefined }

/**
 * Fires `status`, `conflict`, `resync`, `error` and `progress` events (`CustomEvent`, payload in
 * `detail`; `SyncEventMap` types each).
 */
export class SyncClient extends /** @type {new () => SyncEventTarget} */ (EventTarget) {
  /** @internal @type {Options} */
  o
  /** @type {Status} */
  status = 'offline'
  /** Holds the connection for this database (false in follower tabs). */
  leader = false
  /** @internal @type {Map<string, Collection<any>>} */
  colls = new Map()
  /** @internal @type {Map<string, Set<(changes: Change[]) => void>>} */
  subs = new Map()
  /** @internal @type {{c: string, id: string, doc: Doc | null | ((cur: Doc | undefined) => Doc | null), seq?: number, res: (h: WriteHandle) => void, rej: (e: unknown) => void}[]} writes waiting for their transaction */
  wq = []
  /** @internal */
  writing = false
  /** @internal @type {Map<number, {res: (r: WriteResult) => void, rej: (e: unknown) => void}>} by `seq`: the handles of writes of this client object awaiting the hub's verdict */
  wr = new Map()
  /** @internal @type {Syncer | null} */
  syncer = null
  /** @internal @type {Error | null} set when the client can no longer work (closed, database taken away) */
  dead = null
  /** @internal @type {SyncError | null} the fatal error that stopped sync until `reconnect()` (this tab's or the leader tab's) */
  halted = null
  /** @internal */
  ts = 0n
  /** @internal @type {Set<{res: () => void, rej: (e: unknown) => void}>} */
  waiters = new Set()
  /** @internal @type {Tabs} */
  tabs
  /** @internal @type {Promise<{store: Store, clientId: string}>} */
  ready
  /** @internal @type {(m: any) => unknown} every hub frame, for the rooms (presence.js) and query subscriptions (subsets.js); truthy (or resolving so): taken */
  ext = () => {}
  /** @internal */
  onOnline = () => this.syncer?.kick()
  /** @internal */
  onOffline = () => this.syncer?.drop()
  /** @internal */
  onVisible = () => this.o.document?.visibilityState === 'visible' && this.syncer?.kick()

  /** @param {SyncClientOptions} options */
  constructor(options) {
    super()
    if (!options || typeof options.url !== 'string') throw new TypeError('SyncClient: url required')
    // `env` groups the platform; its members are also taken from the top level (the 0.1 options)
    this.o = /** @type {Options} */ ({
      dbName: 'synchub',
      user: null,
      token: null,
      WebSocket: g.WebSocket,
      indexedDB: g.indexedDB,
      locks: g.navigator?.locks ?? null,
      storage: g.navigator?.storage ?? null,
      BroadcastChannel: g.BroadcastChannel ?? null,
      events: typeof g.addEventListener === 'function' ? g : null,
      document: g.document ?? null,
      app: null,
      now: Date.now,
      random: Math.random,
      // the platform's own setTimeout/clearTimeout, called as methods of the global object
      timers: g,
      backoffMin: 500,
      backoffMax: 20000,
      connectTimeout: 15000,
      maxInFlight: 4,
      docLimits: DOC_LIMITS,
      ...options,
      ...options.env,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
    })
    if (this.o.user != null) this.o.dbName += ':' + this.o.user
    this.tabs = new Tabs('synchub:' + this.o.dbName, this.o.locks, this.o.BroadcastChannel, (m) => this.onTab(m))
    this.ready = this.init()
    this.ready.catch((e) => this.fail('open', e))
  }

  /** @internal */
  async init() {
    const store = await openStore(this.o.indexedDB, this.o.dbName, () =>
      this.fail('versionchange', new Error('database upgraded or deleted elsewhere')), this.o.indexes)
    const clientId = await store.clientId()
    const ev = this.o.events
    ev?.addEventListener('online', this.onOnline)
    ev?.addEventListener('offline', this.onOffline)
    this.o.document?.addEventListener('visibilitychange', this.onVisible)
    this.tabs.lead(() => this.startLeading(store, clientId))
    if (!this.leader) this.tabs.post({ t: 'ask' })
    return { store, clientId }
  }

  /** @internal @param {Store} store @param {string} clientId */
  startLeading(store, clientId) {
    if (this.dead) return
    this.leader = true
    this.syncer = new Syncer({
      store,
      clientId,
      o: this.o,
      setStatus: (s) => this.setStatus(s, true),
      remote: (ch) => this.changed(ch, 'remote', true),
      emit: (type, detail) => {
        if (type === 'error') this.halt(/** @type {SyncError} */ (detail))
        this.emit(type, detail)
        this.tabs.post({ t: 'ev', type, detail: type === 'error' ? bare(detail) : detail })
      },
      acked: (done) => {
        this.settle(done)
        this.tabs.post({ t: 'acked', done })
      },
      observe: (v) => (this.ts = hlcObserve(this.ts, v, this.o.now())),
      colls: () => [...this.colls.keys()],
      ext: (m) => this.ext(m),
    })
    this.syncer.start()
  }

  /** @internal @param {any} m a message from another tab */
  onTab(m) {
    if (this.dead) return
    if (m.t === 'changes') this.changed(m.changes, 'remote', false)
    else if (m.t === 'outbox') this.syncer?.pump()
    else if (m.t === 'refresh') this.syncer?.refreshToken()
    else if (m.t === 'reconnect') this.syncer && this.reconnect()
    else if (m.t === 'acked') this.settle(m.done || [])
    else if (m.t === 'ask' && this.leader) this.tabs.post({ t: 'status', status: this.status, halted: bare(this.halted) })
    else if (this.leader) return
    else if (m.t === 'status') {
      this.halted = null
      this.halt(m.halted)
      this.setStatus(m.status, false)
    } else if (m.t === 'ev') {
      if (m.type === 'error') this.halt(m.detail)
      this.emit(m.type, m.detail)
    }
  }

  /** @internal @param {Status} s @param {boolean} share */
  setStatus(s, share) {
    const old = this.status
    if (s === 'connecting') this.halted = null
    if (old === s) return
    this.status = s
    if (share) this.tabs.post({ t: 'status', status: s, halted: bare(this.halted) })
    this.emit('status', { oldStatus: old, newStatus: s })
  }

  /**
   * A fatal `error` stopped sync (here or in the leader tab): `flush()` rejects, at once and for
   * the calls already waiting, until sync starts again.
   * @internal @param {SyncError | null} err
   */
  halt(err) {
    if (!err?.fatal) return
    this.halted = err
    const e = stopError(err)
    for (const w of this.waiters) w.rej(e)
    this.waiters.clear()
  }

  /**
   * @internal
   * @template {keyof SyncEventMap} K
   * @param {K} type @param {SyncEventMap[K]} detail
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /**
   * Outbox entries were answered: fire `acked`, hand their verdicts to the handles of this client
   * object, and wake `flush()`.
   * @internal
   * @param {WriteResult[]} done
   */
  settle(done) {
    if (done.length) this.emit('acked', done)
    for (const r of done) {
      this.wr.get(r.seq)?.res(r)
      this.wr.delete(r.seq)
    }
    for (const w of this.waiters) w.res()
    this.waiters.clear()
  }

  /**
   * Deliver stored changes: `change` event, subscribers (and other tabs when they happened here).
   * @internal
   * @param {StoredChange[]} changes
   * @param {'local' | 'remote'} origin
   * @param {boolean} share
   */
  changed(changes, origin, share) {
    if (!changes.length) return
    this.emit('change', changes)
    if (share) this.tabs.post({ t: 'changes', changes })
    /** @type {Map<string, Change[]>} */
    const by = new Map()
    for (const c of changes) {
      const list = by.get(c.coll) || []
      list.push(/** @type {Change} */ ({ type: c.type, id: c.id, doc: c.doc, origin, ...(c.doc?.[OVERSIZE] ? { oversize: true } : {}) }))
      by.set(c.coll, list)
    }
    for (const [coll, list] of by) {
      for (const cb of this.subs.get(coll) || []) {
        try {
          cb(list)
        } catch (e) {
          this.emit('error', syncError('subscriber', 0, e, false))
        }
      }
    }
  }

  /**
   * The collection named `name`; it is subscribed on the hub from now on. `T` types its documents
   * (not checked at run time).
   * @template {object} [T=Doc]
   * @param {string} name
   * @returns {Collection<T>}
   */
  collection(name) {
    if (typeof name !== 'string' || !name) throw new TypeError('collection name required')
    let c = this.colls.get(name)
    if (!c) {
      c = new Collection(this, name)
      this.colls.set(name, c)
      this.syncer?.subscribe(name)
    }
    return c
  }

  /**
   * Outbox entries not acknowledged yet (persisted: survives reloads), oldest first.
   * @returns {Promise<PendingWrite[]>}
   */
  async pendingWrites() {
    const { store } = await this.ready
    // the wire form: `base` rides along (not typed), sharing the pump's conversion
    return /** @type {any} */ ((await store.readOutbox(0)).map(toMutation))
  }

  /** Number of outbox entries not acknowledged yet. @returns {Promise<number>} */
  async pendingCount() {
    const { store } = await this.ready
    return store.outboxCount()
  }

  /**
   * Resolves when the outbox is empty (every write acknowledged by the hub). Rejects when sync is
   * stopped (`close()`, a fatal error, `unauthorized`: `UnauthorizedError`), also when it stops
   * while this call waits.
   * @returns {Promise<void>}
   */
  async flush() {
    const { store } = await this.ready
    for (;;) {
      if (this.dead) throw this.dead
      if (this.halted) throw stopError(this.halted)
      const wait = new Promise((res, rej) => this.waiters.add({ res: () => res(undefined), rej }))
      wait.catch(() => {})
      if (this.wq.length === 0 && !this.writing && (await store.outboxCount()) === 0) return
      await wait
    }
  }

  /**
   * Call the `token` function now and hand the new token to the hub without reconnecting (e.g.
   * after the user's permissions changed). Collections the hub had ended are subscribed again
   * once it accepts. In a follower tab the request goes to the leader tab.
   * @returns {Promise<boolean>} true when the hub accepted the token; false when it refused it,
   *   the client is not connected (it reconnects at once, asking the `token` function), the
   *   `token` option is not a function, or this tab is a follower
   */
  async refreshToken() {
    if (this.syncer) return this.syncer.refreshToken()
    if (!this.dead) this.tabs.post({ t: 'refresh' })
    return false
  }

  /**
   * Resume after a fatal stop (`unauthorized` once the user signed in again, `closed`,
   * `user-mismatch`); otherwise reconnect at once if disconnected. In a follower tab the request
   * goes to the leader tab.
   */
  reconnect() {
    const s = this.syncer
    if (this.dead) return
    if (!s) this.tabs.post({ t: 'reconnect' })
    else if (s.stopped) s.start()
    else s.kick()
  }

  /**
   * @internal
   * @param {'open' | 'versionchange'} kind
   * @param {unknown} error
   */
  fail(kind, error) {
    if (this.dead) return
    this.dead = error instanceof Error ? error : new Error(/** @type {any} */ (error))
    this.emit('error', syncError(kind, 0, error, false, { fatal: true }))
    this.shutdown()
  }

  /** @internal */
  shutdown() {
    const dead = (this.dead ||= new Error('client closed'))
    this.syncer?.stop()
    this.syncer = null
    // followers show `offline` until another tab has taken over
    this.setStatus('offline', this.leader)
    this.tabs.close()
    const ev = this.o.events
    ev?.removeEventListener('online', this.onOnline)
    ev?.removeEventListener('offline', this.onOffline)
    this.o.document?.removeEventListener('visibilitychange', this.onVisible)
    for (const w of [...this.waiters, ...this.wr.values()]) w.rej(dead)
    this.waiters.clear()
    this.wr.clear()
  }

  /** Close the connection, release the lock (another tab takes over) and close the database. */
  async close() {
    let store
    try {
      ;({ store } = await this.ready)
      while (this.writing) await new Promise((r) => setTimeout(r, 5))
    } catch {}
    if (!this.dead || this.syncer) this.shutdown()
    store?.close()
  }
}

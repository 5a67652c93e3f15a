/**
 * `SyncClient`: the public face. Local reads and writes go to IndexedDB at once (each write and
 * its outbox entry in one transaction); the tab holding the connection lock runs the `Syncer`.
 * `Collection` (the per-collection API) lives in `collection.js`.
 */
import { openStore } from './store.js'
import { Collection } from './collection.js'
import { Syncer, isQuota } from './sync.js'
import { Tabs } from './tabs.js'
import { hlcNext, hlcObserve } from './core/hlc.js'
import { DEFAULT_LIMITS } from './transport-ws.js'
import { DOC_LIMITS, OVERSIZE } from './core/limits.js'

/** @typedef {import('./core/records.js').Doc} Doc */
/** @typedef {import('./core/state.js').Status} Status */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/** @typedef {import('./store.js').Store} Store */
/** @typedef {import('./core/records.js').OutboxEntry} OutboxEntry */
/**
 * @typedef {object} Change what `subscribe` callbacks receive
 * @property {'put' | 'delete'} type
 * @property {string} id
 * @property {Doc | null} doc
 * @property {'local' | 'remote'} origin `local`: written by this client object; `remote`: by the hub or another tab
 * @property {true} [oversize] `doc` is the hub's placeholder `{id, $oversize: {reason, limit, size}}` for a stored document beyond the limits
 */
/**
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => ReturnType<typeof setTimeout>} setTimeout
 * @property {(id: ReturnType<typeof setTimeout> | undefined) => void} clearTimeout
 */
/**
 * @typedef {object} SyncClientOptions
 * @property {string} url WebSocket URL of the hub's `/sync` endpoint
 * @property {string} [dbName] IndexedDB database name (default `synchub`)
 * @property {string | null} [user] who is signed in (the subject of the hub's tokens). Each user
 *   gets a database of its own, `<dbName>:<user>` (documents, cursors, outbox, tab lock), and the
 *   client stops (error `user-mismatch`) rather than sync it when the hub authenticates someone
 *   else. Without it every user of the browser shares one database and one outbox.
 * @property {string | null | (() => Promise<string | null>)} [token] sent in `hello`; a function is called on every connect and, before the token expires, for an in-band refresh (`auth`)
 * @property {typeof WebSocket} [WebSocket] default: `globalThis.WebSocket`
 * @property {IDBFactory} [indexedDB] default: `globalThis.indexedDB`
 * @property {import('./tabs.js').LockManagerLike | null} [locks] Web Locks; default `navigator.locks`; `null` = every tab connects
 * @property {(typeof BroadcastChannel) | null} [BroadcastChannel] default: the global; `null` = no cross-tab fan-out
 * @property {EventTarget | null} [events] source of `online`/`offline`; default the global scope
 * @property {{visibilityState: string, addEventListener: EventTarget['addEventListener'], removeEventListener: EventTarget['removeEventListener']} | null} [document] source of `visibilitychange`
 * @property {string | null} [app] sent in `hello`
 * @property {() => number} [now] wall clock in ms
 * @property {() => number} [random] uniform in [0, 1)
 * @property {Timers} [timers]
 * @property {number} [backoffMin] ms (default 500)
 * @property {number} [backoffMax] ms (default 20000)
 * @property {number} [connectTimeout] ms until `welcome` (default 15000)
 * @property {number} [maxInFlight] mutation batches awaiting an ack (default 4)
 * @property {import('./core/limits.js').DocLimits} [docLimits] what `put` accepts (docs/protocol.md "Document limits"); the hub's, once connected
 * @property {import('./transport-ws.js').Limits} [limits] msgpack decoder limits for hub frames
 */

const g = /** @type {any} */ (globalThis)

/** Fires `status`, `conflict`, `resync`, `error` and `progress` events (`CustomEvent`, payload in `detail`). */
export class SyncClient extends EventTarget {
  /** @param {SyncClientOptions} options */
  constructor(options) {
    super()
    if (!options || typeof options.url !== 'string') throw new TypeError('SyncClient: url required')
    /** @type {Required<SyncClientOptions>} */
    this.o = {
      dbName: 'synchub',
      user: null,
      token: null,
      WebSocket: g.WebSocket,
      indexedDB: g.indexedDB,
      locks: g.navigator?.locks ?? null,
      BroadcastChannel: g.BroadcastChannel ?? null,
      events: typeof g.addEventListener === 'function' ? g : null,
      document: g.document ?? null,
      app: null,
      now: Date.now,
      random: Math.random,
      timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) },
      backoffMin: 500,
      backoffMax: 20000,
      connectTimeout: 15000,
      maxInFlight: 4,
      docLimits: DOC_LIMITS,
      ...options,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
    }
    if (this.o.user != null) this.o.dbName += ':' + this.o.user
    /** @type {Status} */
    this.status = 'offline'
    /** Holds the connection for this database (false in follower tabs). */
    this.leader = false
    /** @type {Map<string, Collection>} */
    this.colls = new Map()
    /** @type {Map<string, Set<(changes: Change[]) => void>>} */
    this.subs = new Map()
    /** @type {{c: string, id: string, doc: Doc | null, res: () => void, rej: (e: unknown) => void}[]} */
    this.wq = []
    this.writing = false
    /** @type {Syncer | null} */
    this.syncer = null
    /** @type {Error | null} set when the client can no longer work (closed, database taken away) */
    this.dead = null
    this.ts = 0n
    /** @type {Set<{res: () => void, rej: (e: unknown) => void}>} */
    this.waiters = new Set()
    this.tabs = new Tabs('synchub:' + this.o.dbName, this.o.locks, this.o.BroadcastChannel, (m) => this.onTab(m))
    this.onOnline = () => this.syncer?.kick()
    this.onOffline = () => this.syncer?.drop()
    this.onVisible = () => this.o.document?.visibilityState === 'visible' && this.syncer?.kick()
    /** @type {Promise<{store: Store, clientId: string}>} */
    this.ready = this.init()
    this.ready.catch((e) => this.fail('open', e))
  }

  async init() {
    const store = await openStore(this.o.indexedDB, this.o.dbName, () =>
      this.fail('versionchange', new Error('database upgraded or deleted elsewhere; reload'))
    )
    const clientId = await store.clientId()
    const ev = this.o.events
    ev?.addEventListener('online', this.onOnline)
    ev?.addEventListener('offline', this.onOffline)
    this.o.document?.addEventListener('visibilitychange', this.onVisible)
    this.tabs.lead(() => this.startLeading(store, clientId))
    if (!this.leader) this.tabs.post({ t: 'ask' })
    return { store, clientId }
  }

  /** @param {Store} store @param {string} clientId */
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
        this.emit(type, detail)
        this.tabs.post({ t: 'ev', type, detail: type === 'error' ? { ...detail, error: String(/** @type {any} */ (detail).error ?? '') } : detail })
      },
      acked: () => {
        this.wake()
        this.tabs.post({ t: 'acked' })
      },
      observe: (v) => (this.ts = hlcObserve(this.ts, v, this.o.now())),
      colls: () => [...this.colls.keys()],
    })
    this.syncer.start()
  }

  /** @param {any} m a message from another tab */
  onTab(m) {
    if (this.dead) return
    if (m.t === 'changes') this.changed(m.changes, 'remote', false)
    else if (m.t === 'outbox') this.syncer?.pump()
    else if (m.t === 'refresh') this.syncer?.refreshToken()
    else if (m.t === 'acked') this.wake()
    else if (m.t === 'ask' && this.leader) this.tabs.post({ t: 'status', status: this.status })
    else if (m.t === 'status' && !this.leader) this.setStatus(m.status, false)
    else if (m.t === 'ev' && !this.leader) this.emit(m.type, m.detail)
  }

  /** @param {Status} s @param {boolean} share */
  setStatus(s, share) {
    const old = this.status
    if (old === s) return
    this.status = s
    if (share) this.tabs.post({ t: 'status', status: s })
    this.emit('status', { oldStatus: old, newStatus: s })
  }

  /** @param {string} type @param {unknown} detail */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /**
   * Deliver stored changes to subscribers (and to other tabs when they happened here).
   * @param {StoredChange[]} changes
   * @param {'local' | 'remote'} origin
   * @param {boolean} share
   */
  changed(changes, origin, share) {
    if (!changes.length) return
    if (share) this.tabs.post({ t: 'changes', changes })
    /** @type {Map<string, Change[]>} */
    const by = new Map()
    for (const c of changes) {
      const list = by.get(c.coll) || []
      list.push({ type: c.type, id: c.id, doc: c.doc, origin, ...(c.doc?.[OVERSIZE] ? { oversize: true } : {}) })
      by.set(c.coll, list)
    }
    for (const [coll, list] of by) {
      for (const cb of this.subs.get(coll) || []) {
        try {
          cb(list)
        } catch (e) {
          this.emit('error', { kind: 'subscriber', error: e })
        }
      }
    }
  }

  /**
   * The collection named `name`; it is subscribed on the hub from now on.
   * @param {string} name
   * @returns {Collection}
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
   * Queue a local write; writes issued together commit in one transaction.
   * @param {string} c
   * @param {string} id
   * @param {Doc | null} doc
   * @returns {Promise<void>}
   */
  write(c, id, doc) {
    if (this.dead) return Promise.reject(this.dead)
    return new Promise((res, rej) => {
      this.wq.push({ c, id, doc, res, rej })
      if (!this.writing) this.drain()
    })
  }

  async drain() {
    this.writing = true
    try {
      const { store } = await this.ready
      while (this.wq.length) {
        const ops = this.wq.splice(0, 2000)
        try {
          const changes = await store.write(ops, (stored) => (this.ts = hlcNext(stored > this.ts ? stored : this.ts, this.o.now())))
          for (const op of ops) op.res()
          this.changed(changes, 'local', true)
          if (this.syncer) this.syncer.pump()
          else this.tabs.post({ t: 'outbox' })
        } catch (e) {
          for (const op of ops) op.rej(e)
          this.emit('error', { kind: isQuota(e) ? 'quota' : 'store', error: e })
        }
      }
    } catch (e) {
      for (const op of this.wq.splice(0)) op.rej(e)
    } finally {
      this.writing = false
    }
  }

  /**
   * Outbox entries not acknowledged yet (persisted: survives reloads), oldest first.
   * @returns {Promise<{seq: number, coll: string, id: string, op: 'put' | 'del', doc: Doc | null, ts: bigint}[]>}
   */
  async pendingWrites() {
    const { store } = await this.ready
    return (await store.outboxAll()).map((e) => ({ seq: e.seq, coll: e.c, id: e.id, op: e.op, doc: e.doc, ts: e.ts }))
  }

  /** Number of outbox entries not acknowledged yet. @returns {Promise<number>} */
  async pendingCount() {
    const { store } = await this.ready
    return store.outboxCount()
  }

  /** Resolves when the outbox is empty (every write acknowledged by the hub). @returns {Promise<void>} */
  async flush() {
    const { store } = await this.ready
    for (;;) {
      if (this.dead) throw this.dead
      const wait = new Promise((res, rej) => this.waiters.add({ res: () => res(undefined), rej }))
      wait.catch(() => {})
      if (this.wq.length === 0 && !this.writing && (await store.outboxCount()) === 0) return
      await wait
    }
  }

  wake() {
    for (const w of this.waiters) w.res()
    this.waiters.clear()
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

  /** Reconnect after a fatal close (e.g. 4010 unauthorized once a new token is available). */
  reconnect() {
    if (this.syncer?.stopped && !this.dead) this.syncer.start()
    else this.syncer?.kick()
  }

  /**
   * @param {string} kind
   * @param {unknown} error
   */
  fail(kind, error) {
    if (this.dead) return
    this.dead = error instanceof Error ? error : new Error(String(error))
    this.emit('error', { kind, error, fatal: true })
    this.shutdown()
  }

  shutdown() {
    this.dead ||= new Error('client closed')
    this.syncer?.stop()
    this.syncer = null
    this.tabs.close()
    const ev = this.o.events
    ev?.removeEventListener('online', this.onOnline)
    ev?.removeEventListener('offline', this.onOffline)
    this.o.document?.removeEventListener('visibilitychange', this.onVisible)
    for (const w of this.waiters) w.rej(this.dead)
    this.waiters.clear()
    this.setStatus('offline', false)
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

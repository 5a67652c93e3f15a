/**
 * Query subscriptions (partial sync) on the client's own connection (docs/client.md "Partial sync",
 * docs/protocol.md "Query subscriptions"). Part of `synchub-client/query`:
 *
 *   const todos = subset(client, 'todos')          // this collection syncs only its subscriptions
 *   const open = query(todos).where({ team: 'x', done: false }).sync()
 *   open.addEventListener('progress', (e) => show(e.detail.done))
 *   await open.ready                               // the first `qsynced`
 *   const room = syncNamed(todos, 'room_messages', { room: 'R' })
 *   open.end()                                     // drops what no other subscription holds
 *
 * Each subscription is known by its key (collection and filter, or name and parameters) and keeps,
 * in the database, its cursor and the documents it holds (`subset-store.js`): after a reload or a
 * reconnect it resumes with a catch-up from that cursor. The hub's frames reach this module through
 * `client.ext` (taken: the core does not see them); `sub` ids are negative, so they never meet the
 * core's whole-collection ids (in `error.ref`, `unsub`).
 *
 * Like rooms, subscriptions are served by the tab holding the connection (the leader tab); in
 * another tab they wait until it leads. Local queries over the subset work in every tab, offline too.
 */
import { Collection } from './collection.js'
import { syncError } from './core/errors.js'
import { hlcObserve } from './core/hlc.js'
import { ProtocolViolation } from './core/messages.js'
import { applySubset, finishSubset, endSubset, subsetCursor, settleLeft } from './subset-store.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./types.js').SyncError} SyncError */
/** @typedef {import('./core/cursor.js').Cursor} Cursor */
/** @typedef {import('./core/messages.js').Change} Change */
/** @typedef {{filter: [string, string, unknown][]} | {name: string, params: Record<string, unknown>}} Def what the `sub` frame asks for */
/**
 * @typedef {object} Sub one subscription (all handles of the same key share it)
 * @property {string} key
 * @property {string} coll
 * @property {Def} def
 * @property {Set<Subset>} handles
 * @property {number} id its `sub` id on this connection (0: not sent)
 * @property {string | null} q the subset's live stream, from `qsynced`
 * @property {boolean} syncing
 * @property {boolean} resume page cursors may be stored (a catch-up, or a first sync: not a snapshot over held documents)
 * @property {Set<string>} seen ids sent by this sync (for a `reset`)
 * @property {number} done
 */
/**
 * @typedef {object} SubsetEventMap
 * @property {{done: number, synced: boolean}} progress documents received by the current sync; `synced` at its end
 * @property {{mode: string, reset: boolean}} synced a sync is complete (the first one resolves `ready`)
 * @property {{reason: string, mode: string}} resync the hub restarts the sync (`qresync`)
 * @property {SyncError} error the hub refused or ended the subscription (`kind` 'sub' or 'unsub'; 4422: the filter)
 */
/**
 * @template {keyof SubsetEventMap} K
 * @typedef {((ev: CustomEvent<SubsetEventMap[K]>) => void) | EventListenerObject | null} Listener
 */
/**
 * An EventTarget whose listeners are typed by `SubsetEventMap` (a type only).
 * @typedef {Omit<EventTarget, 'addEventListener' | 'removeEventListener'> & {
 *   addEventListener<K extends keyof SubsetEventMap>(type: K, listener: Listener<K>, options?: boolean | AddEventListenerOptions): void,
 *   removeEventListener<K extends keyof SubsetEventMap>(type: K, listener: Listener<K>, options?: boolean | EventListenerOptions): void,
 * }} SubsetEventTarget
 */

/** @type {WeakMap<SyncClient, Engine>} */
const engines = new WeakMap()

/** @param {SyncClient} client @returns {Engine} */
const engine = (client) => engines.get(client) || new Engine(client)

/** A key for maps (bigint values of a filter included). @param {unknown} v */
const keyOf = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x + 'n' : x))

/**
 * The collection `name` of `client`, synced only through its query subscriptions: unlike
 * `client.collection(name)` it is not subscribed whole on the hub. When the app also calls
 * `client.collection(name)`, that one is returned (the whole collection is synced; removals from a
 * subset then never drop its documents).
 * @template {object} [T=import('./types.js').Doc]
 * @param {SyncClient} client
 * @param {string} name
 * @returns {Collection<T>}
 */
export function subset(client, name) {
  if (typeof name !== 'string' || !name) throw new TypeError('collection name required')
  const e = engine(client)
  let c = client.colls.get(name) || e.colls.get(name)
  if (!c) e.colls.set(name, (c = new Collection(client, name)))
  return /** @type {any} */ (c)
}

/**
 * Sync the named subscription `name` (defined in the hub's config) of `collection` with `params`.
 * @template {object} T
 * @param {Collection<T>} collection
 * @param {string} name
 * @param {Record<string, unknown>} [params]
 * @returns {Subset}
 */
export function syncNamed(collection, name, params = {}) {
  if (typeof name !== 'string' || !name) throw new TypeError('syncNamed: subscription name required')
  if (!params || typeof params !== 'object' || Array.isArray(params)) throw new TypeError('syncNamed: params must be a map')
  return engine(collection.client).open(collection.name, { name, params })
}

/**
 * Sync the subset of `collection` whose documents pass all of `where` (each `[field, op, value]`).
 * `query(c).where(...).sync()` calls this.
 * @param {Collection<any>} collection
 * @param {[string, string, unknown][]} where
 * @returns {Subset}
 */
export function syncFilter(collection, where) {
  return engine(collection.client).open(collection.name, { filter: where })
}

/**
 * One query subscription, as the app holds it. Events (`CustomEvent`, `SubsetEventMap`):
 * `progress`, `synced`, `resync`, `error`.
 */
export class Subset extends /** @type {new () => SubsetEventTarget} */ (EventTarget) {
  /** Resolves at the end of the first sync (`qsynced`); rejects with the `SyncError` of a refused subscription. @type {Promise<void>} */
  ready
  /** The first sync completed. */
  synced = false
  /** @type {SyncError | null} why the hub refused or ended it (it is then no longer synced) */
  error = null
  /** @internal @type {(v?: any) => void} */
  res = () => {}
  /** @internal @type {(e: unknown) => void} */
  rej = () => {}

  /** @internal @param {Engine} e @param {Sub} sub */
  constructor(e, sub) {
    super()
    this.e = e
    this.sub = sub
    this.ready = new Promise((res, rej) => Object.assign(this, { res, rej }))
    // an app that never awaits `ready` still sees the `error` event, not an unhandled rejection
    this.ready.catch(() => {})
  }

  /** The collection's name. */
  get coll() {
    return this.sub.coll
  }

  /**
   * Stop syncing (on this client object), keeping the documents and the cursor: a later `sync()`
   * of the same subset resumes with a catch-up.
   */
  close() {
    return this.e.detach(this, false)
  }

  /**
   * End the subscription: stop syncing it and remove the documents no other subscription holds
   * (those with pending writes stay until acknowledged); its cursor is forgotten. Resolves once the
   * database is updated. A subset still held by another handle of the same filter stays.
   * @returns {Promise<void>}
   */
  end() {
    return this.e.detach(this, true)
  }

  /** @internal @param {keyof SubsetEventMap} type @param {unknown} detail */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}

class Engine {
  /** @type {Map<string, Sub>} by key */
  subs = new Map()
  /** @type {Map<number, Sub>} by `sub` id, on this connection */
  ids = new Map()
  /** @type {Map<string, Collection<any>>} collections of `subset()` */
  colls = new Map()
  n = 0
  /**
   * @type {boolean | null} the hub serves query subscriptions (`welcome.features`); null: not known
   * (made on a live connection, its `welcome` unseen): `sub` is sent, the next `welcome` tells
   */
  served = null

  /** @param {SyncClient} client */
  constructor(client) {
    this.c = client
    engines.set(client, this)
    const prev = client.ext
    client.ext = (m) => this.on(m) || prev(m)
    client.addEventListener('acked', (ev) => this.acked(ev.detail))
  }

  /** @param {string} coll @param {Def} def */
  open(coll, def) {
    const key = keyOf([coll, def])
    let sub = this.subs.get(key)
    if (!sub) {
      sub = { key, coll, def, handles: new Set(), id: 0, q: null, syncing: true, resume: true, seen: new Set(), done: 0 }
      this.subs.set(key, sub)
      this.start(sub)
    }
    const h = new Subset(this, sub)
    sub.handles.add(h)
    if (!sub.syncing) {
      h.synced = true
      h.res()
    } else if (this.served === false) this.fail(sub, syncError('sub', 0, 'the hub serves no query subscriptions', false, { coll }))
    return h
  }

  /**
   * Send `sub` for `sub` (with its stored cursor) when connected.
   * @param {Sub} sub @param {boolean} [welcome] called while `welcome` is handled (not `welcomed` yet)
   */
  async start(sub, welcome) {
    const s = this.c.syncer
    if (!s?.sock || !(welcome || s.welcomed) || this.served === false || this.subs.get(sub.key) !== sub) return
    const gen = s.gen
    const id = (sub.id = --this.n)
    this.ids.set(id, sub)
    Object.assign(sub, { syncing: true, resume: true, seen: new Set(), done: 0 })
    const { store } = await this.c.ready
    const cursor = await subsetCursor(store, sub.key)
    // not when the connection was lost meanwhile (the next `welcome` sends it again) or it ended
    if (s.gen === gen && sub.id === id && this.subs.get(sub.key) === sub) s.sock?.send({ t: 'sub', id, coll: sub.coll, cursor, ...sub.def })
  }

  /**
   * A frame from the hub; truthy when it is ours (a promise: the core waits for it).
   * @param {any} m
   */
  on(m) {
    const t = m.t
    if (t === 'welcome') {
      this.ids.clear()
      this.served = Array.isArray(m.features) && m.features.includes('query')
      for (const sub of this.subs.values()) {
        if (this.served) this.start(sub, true)
        else this.fail(sub, syncError('sub', 0, 'the hub serves no query subscriptions', false, { coll: sub.coll }))
      }
      return
    }
    if (t === 'error' || t === 'unsub') {
      const id = t === 'error' ? m.ref : m.id
      if (!(id < 0)) return
      const sub = this.ids.get(id)
      if (sub) this.fail(sub, syncError(t === 'error' ? 'sub' : 'unsub', m.code, m.msg, false, { coll: sub.coll }))
      return true
    }
    if (t === 'qchg') return this.chg(m)
    if (t !== 'qpage' && t !== 'qsynced' && t !== 'qresync') return
    const sub = this.ids.get(m.id)
    return sub ? this.step(sub, m) : true
  }

  /** @param {Sub} sub @param {any} m qpage, qsynced or qresync */
  async step(sub, m) {
    if (!this.valid(m)) return true
    const whole = this.c.colls.has(sub.coll)
    const { store } = await this.c.ready
    if (m.t === 'qresync') {
      Object.assign(sub, { syncing: true, resume: m.mode === 'catchup', seen: new Set(), done: 0 })
      for (const h of sub.handles) h.emit('resync', { reason: m.reason, mode: m.mode })
    } else if (m.t === 'qpage') {
      for (const [id, ver] of m.changes) {
        this.observe(ver)
        sub.seen.add(id)
      }
      this.c.changed(await applySubset(store, sub.coll, [sub.key], m.changes, sub.resume ? m.cursor : null, [sub.key], whole), 'remote', true)
      sub.done = m.done
      for (const h of sub.handles) h.emit('progress', { done: m.done, synced: false })
    } else {
      this.c.changed(await finishSubset(store, sub.coll, sub.key, m.cursor, m.reset, sub.seen, whole), 'remote', true)
      Object.assign(sub, { syncing: false, q: m.q, seen: new Set() })
      for (const h of sub.handles) {
        h.emit('progress', { done: sub.done, synced: true })
        h.emit('synced', { mode: m.mode, reset: m.reset })
        h.synced = true
        h.res()
      }
    }
    return true
  }

  /** Live changes of the subset `m.q`, for every subscription of it. @param {any} m */
  async chg(m) {
    if (!this.valid(m)) return true
    const subs = [...this.subs.values()].filter((s) => s.q === m.q && s.coll === m.coll && s.id)
    if (!subs.length) return true
    for (const [, ver] of m.changes) this.observe(ver)
    const { store } = await this.c.ready
    const keys = subs.map((s) => s.key)
    // a subscription still syncing takes the documents, not the cursor (its sync ends with one)
    const live = subs.filter((s) => !s.syncing).map((s) => s.key)
    this.c.changed(await applySubset(store, m.coll, keys, m.changes, m.cursor, live, this.c.colls.has(m.coll)), 'remote', true)
    return true
  }

  /**
   * Check the fields the core's decoder leaves to this module (it checked `changes`); a bad frame
   * closes the connection as one the decoder refuses would (4001), and is not applied.
   * @param {any} m
   */
  valid(m) {
    const cur = (/** @type {any} */ c) => Array.isArray(c) && c.length === 2 && typeof c[0] === 'string' && (typeof c[1] === 'bigint' || Number.isSafeInteger(c[1])) && c[1] >= 0
    const ok =
      typeof m.coll === 'string' &&
      (m.t === 'qchg' ? typeof m.q === 'string' && cur(m.cursor) : Number.isSafeInteger(m.id)) &&
      (m.t !== 'qpage' || (Number.isSafeInteger(m.done) && (m.cursor == null || cur(m.cursor)))) &&
      (m.t !== 'qsynced' || (typeof m.q === 'string' && cur(m.cursor) && typeof m.reset === 'boolean' && typeof m.mode === 'string')) &&
      (m.t !== 'qresync' || (typeof m.mode === 'string' && typeof m.reason === 'string'))
    if (!ok) {
      const e = new ProtocolViolation(4001, m.t + ': bad fields')
      this.c.emit('error', syncError('protocol', 4001, e, true))
      this.c.syncer?.sock?.close(4001, e.message)
      return false
    }
    if (m.cursor) m.cursor = [m.cursor[0], BigInt(m.cursor[1])]
    return true
  }

  /** @param {bigint} ver */
  observe(ver) {
    this.c.ts = hlcObserve(this.c.ts, ver, this.c.o.now())
  }

  /**
   * The hub refused or ended `sub`: it is no longer synced (not even after a reconnect); its
   * documents stay until `end()`.
   * @param {Sub} sub @param {SyncError} err
   */
  fail(sub, err) {
    this.subs.delete(sub.key)
    this.ids.delete(sub.id)
    sub.id = 0
    for (const h of sub.handles) {
      h.error = err
      h.emit('error', err)
      h.rej(err)
    }
  }

  /**
   * A handle closes (`end`: and ends); the subscription stops with its last handle.
   * @param {Subset} h @param {boolean} end
   */
  async detach(h, end) {
    const sub = h.sub
    sub.handles.delete(h)
    h.rej(new Error('subscription closed'))
    if (sub.handles.size) return
    if (this.subs.get(sub.key) === sub) {
      this.subs.delete(sub.key)
      this.ids.delete(sub.id)
      const s = this.c.syncer
      if (sub.id && s?.welcomed) s.sock?.send({ t: 'unsub', coll: sub.coll, id: sub.id })
      sub.id = 0
    }
    if (!end) return
    const { store } = await this.c.ready
    this.c.changed(await endSubset(store, sub.coll, sub.key, this.c.colls.has(sub.coll)), 'remote', true)
  }

  /** Writes were acknowledged: documents that left every subscription while pending go now. @param {import('./types.js').WriteResult[]} done */
  async acked(done) {
    const pairs = /** @type {[string, string][]} */ (done.filter((r) => this.colls.has(r.coll) && !this.c.colls.has(r.coll)).map((r) => [r.coll, r.id]))
    if (!pairs.length) return
    const { store } = await this.c.ready
    this.c.changed(await settleLeft(store, pairs), 'remote', true)
  }
}

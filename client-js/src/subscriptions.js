/**
 * The subscriptions of the connection the `Syncer` holds: `sub` requests, the snapshot or catch-up
 * run of each (`page`, `synced`, `resync`), live `chg` frames into the store, and the hub ending
 * one (`unsub`, an `error` naming its request). Like the outbox pump (`pump.js`), which filters
 * the echoes of in-flight writes here, it reads the session's state (`welcomed`, `sock`) live.
 */

import { syncError } from './core/errors.js'

/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/** @typedef {import('./store.js').StoredChange} StoredChange */
/**
 * @typedef {object} Session the connection the subscriptions belong to (the `Syncer`), read live
 * @property {boolean} welcomed
 * @property {import('./transport-ws.js').Socket | null} sock
 * @property {object} h
 * @property {import('./store.js').Store} h.store
 * @property {import('./sync.js').Emit} h.emit
 * @property {(changes: StoredChange[]) => void} h.remote changes applied from the hub
 * @property {(ver: bigint) => void} h.observe
 */
/**
 * @typedef {{id: number, syncing: boolean, seen: Set<string>, done: number, ended?: boolean, resume?: boolean | 2}} Sub
 * `resume`: page cursors may be stored as the collection's cursor (a catch-up, or a snapshot into a
 * collection held nothing of: a reset over held documents needs the whole snapshot); `2`: the
 * collection held nothing when this sync started, so its pages add documents without reading them
 * first (a `resync` sets a boolean: the documents of the pages before it are held)
 */

export class Subscriptions {
  /** @type {Map<string, Sub>} */
  #subs = new Map()
  #reqId = 0

  /**
   * @param {Session} s
   * @param {import('./pump.js').OutboxPump} out tells the echoes of in-flight writes
   * @param {() => void} status called when a subscription started or stopped syncing
   */
  constructor(s, out, status) {
    this.s = s
    this.h = s.h
    this.out = out
    this.status = status
  }

  /** How many subscriptions are syncing (snapshot or catch-up not finished). */
  syncing() {
    let n = 0
    for (const s of this.#subs.values()) if (s.syncing) n++
    return n
  }

  /** Collections whose subscription the hub ended on this connection. */
  ended() {
    return [...this.#subs].filter(([, s]) => s.ended).map(([c]) => c)
  }

  /** The connection is gone: every collection is subscribed again on the next one. */
  clear() {
    this.#subs.clear()
  }

  /** @param {string} coll */
  async subscribe(coll) {
    if (!this.s.welcomed || this.#subs.has(coll)) return
    const id = ++this.#reqId
    /** @type {Sub} */
    const sub = { id, syncing: true, seen: new Set(), done: 0 }
    this.#subs.set(coll, sub)
    this.status()
    const { cursor, empty } = await this.h.store.syncStart(coll)
    sub.resume = empty ? 2 : !!cursor
    // not when the connection was lost meanwhile: the next one has its own `welcome` and `sub`
    if (this.#subs.get(coll) === sub) this.s.sock?.send({ t: 'sub', id, coll, cursor })
  }

  /** Subscribe again to those of `colls` the hub had ended (a forced refresh was accepted). @param {Iterable<string>} colls */
  resubscribe(colls) {
    for (const coll of colls) {
      if (this.#subs.get(coll)?.ended) {
        this.#subs.delete(coll)
        this.subscribe(coll)
      }
    }
  }

  /** @param {Extract<ServerMessage, {t: 'resync'}>} m */
  resync(m) {
    const sub = this.#subs.get(m.coll)
    if (!sub) return
    Object.assign(sub, { syncing: true, seen: new Set(), done: 0, resume: m.mode === 'catchup' })
    this.h.emit('resync', { coll: m.coll, reason: m.reason, mode: m.mode })
    this.status()
  }

  /** @param {Extract<ServerMessage, {t: 'page'}>} m */
  async page(m) {
    const sub = this.#sub(m.coll, m.id)
    if (!sub) return
    for (const [id, ver] of m.changes) {
      this.h.observe(ver)
      sub.seen.add(id)
    }
    const changes = this.out.fresh(m.coll, m.changes)
    const at = sub.resume ? m.cursor : null
    if (changes.length || at) this.h.remote(await this.h.store.applyRemote(m.coll, changes, at, sub.resume == 2))
    sub.done = m.done
    this.h.emit('progress', { coll: m.coll, done: m.done, total: m.total })
  }

  /** @param {Extract<ServerMessage, {t: 'synced'}>} m */
  async synced(m) {
    const sub = this.#sub(m.coll, m.id)
    if (!sub) return
    // a reset may delete documents: what acks told about them no longer holds
    if (m.reset) this.out.forget()
    this.h.remote(await this.h.store.finishSync(m.coll, m.cursor, m.reset, sub.seen))
    sub.syncing = false
    sub.seen = new Set()
    this.h.emit('progress', { coll: m.coll, done: sub.done, total: sub.done })
    this.status()
  }

  /**
   * Live changes; ignored for a collection not subscribed on this connection (a hub sends none).
   * @param {Extract<ServerMessage, {t: 'chg'}>} m
   */
  async chg(m) {
    const sub = this.#subs.get(m.coll)
    if (!sub) return
    for (const [, ver] of m.changes) this.h.observe(ver)
    const changes = this.out.fresh(m.coll, m.changes)
    // only echoes: skip the transaction; the cursor catches up with the next change (replaying
    // a few changes after a reconnect is harmless, versions filter them)
    if (!changes.length && m.changes.length) return
    this.h.remote(await this.h.store.applyRemote(m.coll, changes, sub.syncing ? null : m.cursor))
  }

  /**
   * The hub ended a subscription (4403: no longer readable after a refresh). Local documents and
   * pending writes stay; not re-subscribed on this connection until a forced refresh
   * (`refreshToken()`) is accepted.
   * @param {Extract<ServerMessage, {t: 'unsub'}>} m
   */
  unsub(m) {
    const sub = this.#sub(m.coll, m.id)
    if (sub) this.#end(sub, 'unsub', m.coll, m.code, m.msg)
  }

  /**
   * An `error` that answers a `sub` request ends that subscription.
   * @param {Extract<ServerMessage, {t: 'error'}>} m
   * @returns {boolean} true if it did
   */
  refused(m) {
    for (const [coll, sub] of this.#subs) {
      if (m.ref !== null && sub.id === m.ref) {
        this.#end(sub, 'sub', coll, m.code, m.msg)
        return true
      }
    }
    return false
  }

  /**
   * A subscription refused or ended by the hub: stop waiting for it, report it.
   * @param {Sub} sub @param {'sub' | 'unsub'} kind @param {string} coll @param {number} code @param {string} message
   */
  #end(sub, kind, coll, code, message) {
    sub.syncing = false
    sub.ended = true
    // subscribed again on the next connection (and, ended by the hub, after an accepted `refreshToken()`)
    this.h.emit('error', syncError(kind, code, message, false, { coll }))
    this.status()
  }

  /**
   * The subscription a page/synced belongs to; older subscription ids are stale.
   * @param {string} coll
   * @param {number} id
   */
  #sub(coll, id) {
    const sub = this.#subs.get(coll)
    return sub && id >= sub.id ? sub : undefined
  }
}

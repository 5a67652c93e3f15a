// Page side of a browser client of the chaos driver (driver.mjs + browser.mjs): loaded into a blank
// page of headless Chromium, it hosts one real SyncClient (src/, served by the driver) on the
// browser's own IndexedDB and WebSocket, and does what driver.mjs does for a Node client. The
// driver calls the functions of `globalThis.chaosHarness` with `page.evaluate`: each takes its
// arguments as one JSON string and answers a JSON string, `{ok: true, result}` or
// `{ok: false, error}` (the driver turns the latter into an `ok: false` answer). Events go to the
// driver as they happen, through the binding `__chaosEmit` the driver exposes on the page.
import { SyncClient, Collection } from '/src/index.js'

/** JSON with bigints as decimal strings and errors as "Name: message" (as driver.mjs). */
function replacer(_k, v) {
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof Error) return String(v)
  if (v instanceof Uint8Array) return Array.from(v)
  return v
}
/** A JSON-safe deep copy (taken at once). */
function safe(v) {
  try {
    const s = JSON.stringify(v, replacer)
    return s === undefined ? null : JSON.parse(s)
  } catch (e) {
    return String(v)
  }
}

const H = {
  name: '',
  /** @type {SyncClient | null} */
  client: null,
  offline: false,
  /** @type {Set<WebSocket>} real sockets of this page not closed yet */
  sockets: new Set(),
  /** source of the client's `online` / `offline` */
  events: new EventTarget(),
  /** messages handed to the driver's binding, so `dump` can wait for all of them to arrive */
  emitted: 0,
  /** this page's id (from `open`): events kept in localStorage name the page that emitted them */
  page: '',
  /** the client whose database this page opens (itself, or the first tab of a tabbed database) */
  db: '',
}

/** @type {Promise<IDBDatabase> | null} */
let tokenDb = null
/**
 * Read (`value` undefined) or write the token of this page's database. In IndexedDB, not
 * localStorage: the pages may run in different renderer processes, and a localStorage write
 * reaches the others a moment later, so the leader tab, asked over BroadcastChannel to refresh,
 * could still read the old token; a committed IndexedDB transaction is seen by every later one.
 * @param {string} [value]
 * @returns {Promise<string | undefined>}
 */
async function tokenOp(value) {
  tokenDb ??= new Promise((resolve, reject) => {
    const r = indexedDB.open('chaos-tokens')
    r.onupgradeneeded = () => r.result.createObjectStore('t')
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
  const db = await tokenDb
  return new Promise((resolve, reject) => {
    const tx = db.transaction('t', value === undefined ? 'readonly' : 'readwrite')
    const st = tx.objectStore('t')
    /** @type {string | undefined} */
    let out
    if (value === undefined) {
      const g = st.get(H.db)
      g.onsuccess = () => (out = g.result)
    } else st.put(value, H.db)
    tx.oncomplete = () => resolve(out)
    tx.onerror = tx.onabort = () => reject(tx.error)
  })
}

/**
 * @param {'event' | 'status' | 'progress'} kind @param {any} [payload]
 * @param {boolean} [lost] test hook: the message never reaches the driver (a page killed meanwhile)
 */
function emit(kind, payload, lost = false) {
  H.emitted++
  const line = JSON.stringify({ n: H.emitted, kind, payload }, replacer)
  if (kind === 'event' && H.name) {
    // also kept in localStorage: an event the app saw just before its page was killed may not
    // have reached the driver; the next page of this client hands it over (`pastEvents`)
    try {
      const key = 'chaos-ev:' + H.name
      const all = JSON.parse(localStorage.getItem(key) || '[]')
      all.push({ p: H.page, line })
      localStorage.setItem(key, JSON.stringify(all))
    } catch {}
  }
  // @ts-ignore the binding the driver exposes on this page
  if (!lost) Promise.resolve(globalThis.__chaosEmit(line)).catch(() => {})
}

/** A socket that never opens (the network is "down"): error and close 1006 on the next turn. */
class DeadSocket {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSING = 2
  static CLOSED = 3
  /** @param {string} url */
  constructor(url) {
    this.url = url
    this.readyState = 0
    this.binaryType = 'arraybuffer'
    /** @type {any} */ this.onopen = null
    /** @type {any} */ this.onmessage = null
    /** @type {any} */ this.onerror = null
    /** @type {any} */ this.onclose = null
    setTimeout(() => this.die(), 1)
  }
  die() {
    if (this.readyState === 3) return
    this.readyState = 3
    try {
      this.onerror?.({ type: 'error' })
    } finally {
      this.onclose?.({ type: 'close', code: 1006, reason: '', wasClean: false })
    }
  }
  send() {
    throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError')
  }
  close() {
    if (this.readyState < 2) {
      this.readyState = 2
      setTimeout(() => this.die(), 0)
    }
  }
  addEventListener() {}
  removeEventListener() {}
}

/** The WebSocket class handed to the client: the browser's, unless the network is "down". */
class ChaosWebSocket {
  static CONNECTING = 0
  static OPEN = 1
  static CLOSING = 2
  static CLOSED = 3
  /** @param {string} url @param {any} [protocols] */
  constructor(url, protocols) {
    if (H.offline) return /** @type {any} */ (new DeadSocket(url))
    const ws = new WebSocket(url, protocols)
    H.sockets.add(ws)
    ws.addEventListener('close', () => H.sockets.delete(ws))
    return /** @type {any} */ (ws)
  }
}

/** Close every socket of the page: a browser cannot drop one without a close frame. */
function cutSockets() {
  for (const ws of H.sockets) {
    try {
      ws.close()
    } catch {}
    H.sockets.delete(ws)
  }
}

/** @param {string} c */
const coll = (c) => must().collection(c)
function must() {
  if (!H.client) throw new Error(`client '${H.name}' is not open in its page`)
  return H.client
}

/** @type {Record<string, (a: any) => Promise<any>>} */
const cmds = {
  async open(a) {
    if (H.client) throw new Error(`open: client '${a.client}' is already open in its page`)
    H.name = a.client
    H.page = String(a.page || '')
    H.offline = !!a.offline
    // the tabs of a database (`db`: the first tab's name) share its token, as an app keeps it
    // where every tab of the origin reads it; `token` changes it
    H.db = a.db || a.client
    if (a.token) await tokenOp(a.token)
    const client = new SyncClient({
      url: a.url,
      token: async () => (await tokenOp()) || a.user,
      user: a.user,
      dbName: 'chaos-' + H.db,
      env: {
        indexedDB: globalThis.indexedDB,
        WebSocket: /** @type {any} */ (ChaosWebSocket),
        // tabs: one connection per database (the browser's Web Locks), changes and writes between
        // the pages over the browser's BroadcastChannel
        locks: a.tabbed ? navigator.locks : null,
        BroadcastChannel: a.tabbed ? globalThis.BroadcastChannel : null,
        document: null,
        events: H.events,
      },
      backoffMin: 20,
      backoffMax: a.backoffMax,
      connectTimeout: 5000,
    })
    for (const type of ['conflict', 'error', 'resync']) {
      client.addEventListener(type, (e) => emit('event', { type, detail: safe(/** @type {CustomEvent} */ (e).detail) }))
    }
    client.addEventListener('status', (e) => emit('status', /** @type {CustomEvent} */ (e).detail?.newStatus))
    client.addEventListener('progress', () => emit('progress'))
    H.client = client
    for (const c of a.colls) client.collection(c)
    try {
      await client.ready
    } catch (e) {
      H.client = null
      await client.close().catch(() => {})
      throw e
    }
    return { status: client.status, pending: await client.pendingCount() }
  },

  async put(a) {
    await coll(a.coll).put(a.doc)
    return {}
  },

  async append(a) {
    let length = 0
    await coll(a.coll).update(a.doc.id, (cur) => {
      const list = cur && Array.isArray(cur[a.field]) ? cur[a.field] : []
      length = list.length + 1
      return { ...a.doc, [a.field]: [...list, a.value] }
    })
    return { length }
  },

  async del(a) {
    await coll(a.coll).delete(a.doc_id)
    return {}
  },

  /** The user's credential changes: every tab of the database sends it from now on; this one asks for an in-band refresh (a follower asks the leader). */
  async token(a) {
    const client = must()
    await tokenOp(a.token)
    return { refreshed: await client.refreshToken() }
  },

  async offline() {
    H.offline = true
    cutSockets()
    H.events.dispatchEvent(new Event('offline'))
    return {}
  },

  async online() {
    H.offline = false
    H.events.dispatchEvent(new Event('online'))
    return {}
  },

  async close() {
    const client = must()
    H.client = null
    await client.close()
    return {}
  },

  async reconnect() {
    must().reconnect()
    return {}
  },

  async flush(a) {
    const client = must()
    const f = client.flush()
    f.catch(() => {})
    let timer
    const flushed = await Promise.race([f.then(() => true, () => false), new Promise((r) => (timer = setTimeout(() => r(false), a.timeout_ms)))])
    clearTimeout(timer)
    return { flushed, pending: await client.pendingCount() }
  },

  async status() {
    const client = must()
    return { status: client.status, pending: await client.pendingCount() }
  },

  async dump(a) {
    const client = must()
    const data = {}
    for (const c of a.colls) {
      // a collection not opened is read without subscribing it (internals: `colls`, the Collection constructor)
      const col = client.colls.get(c) ?? new Collection(client, c)
      const docs = await col.getAll()
      data[c] = {}
      for (const d of docs) data[c][d.id] = safe(d)
    }
    const pending = (await client.pendingWrites()).map((p) => ({ seq: p.seq, coll: p.coll, id: p.id, op: p.op }))
    return { data, pending, status: client.status, emitted: H.emitted }
  },

  async _uncaught(a) {
    const msg = typeof a.message === 'string' ? a.message : 'test'
    if (a.kind === 'rejection') setTimeout(() => Promise.reject(new Error(msg)), 1)
    else
      setTimeout(() => {
        throw new Error(msg)
      }, 1)
    return {}
  },

  /** test hook: an event the app sees but whose message to the driver is lost */
  async _lostEvent(a) {
    emit('event', { type: a.type, detail: a.detail }, true)
    return {}
  },

  /** Events that earlier pages of client `a.client` kept (and forget them): `[{p, line}]`. */
  async pastEvents(a) {
    const key = 'chaos-ev:' + a.client
    const all = JSON.parse(localStorage.getItem(key) || '[]')
    localStorage.setItem(key, JSON.stringify(all.filter((e) => e.p === H.page)))
    return all.filter((e) => e.p !== H.page)
  },

  /** How many messages went to the driver (what it waits for before the page goes away). */
  async emitted() {
    return { emitted: H.emitted }
  },
}

/** @param {string} cmd @param {string} json */
async function call(cmd, json) {
  try {
    if (!Object.hasOwn(cmds, cmd)) throw new Error(`harness: unknown command ${cmd}`)
    const result = await cmds[cmd](JSON.parse(json))
    return JSON.stringify({ ok: true, result }, replacer)
  } catch (e) {
    return JSON.stringify({ ok: false, error: e instanceof Error ? e.message || String(e) : String(e) })
  }
}

// @ts-ignore
globalThis.chaosHarness = { call }

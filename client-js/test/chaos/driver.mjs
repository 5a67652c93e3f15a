#!/usr/bin/env node
// Chaos driver: a long-running Node process hosting several real synchub clients (`SyncClient`
// from src/, unchanged) on fake-indexeddb and `ws`, controlled over stdin/stdout by JSON lines.
// The Python fault-injection suite (tests/chaos/) spawns it as
// `node client-js/test/chaos/driver.mjs`, kills and restarts hubs and proxies around it, and
// compares every client's local data with what Ignite holds. The protocol is described in
// test/chaos/README.md. A client opened with `browser: true` lives in a page of headless Chromium
// instead (browser.mjs, harness.js): same commands, same answers.
//
// stdin:  {"id": <int>, "cmd": "<name>", ...args}                 one per line
// stdout: {"id": <same>, "ok": true, ...result}                    exactly one per request,
//         {"id": <same>, "ok": false, "error": "<message>"}        nothing else (logs: stderr)
//
// Commands of different clients run concurrently; commands of one client run one after another
// in arrival order. `ping` and `quit` are global.
import 'fake-indexeddb/auto' // globals the store needs (IDBKeyRange); each client gets its own IDBFactory below
import { IDBFactory } from 'fake-indexeddb'
import WebSocket from 'ws'
import { createInterface } from 'node:readline'
import { AsyncLocalStorage } from 'node:async_hooks'
import { SyncClient, Collection } from '../../src/index.js'
import { BrowserHost, BrowserClient, HarnessError } from './browser.mjs'
import { fakeLocks } from '../helpers/util.js'

const DEBUG = !!process.env.CHAOS_DRIVER_DEBUG
const started = Date.now()

// stdout carries the protocol only: whatever else logs goes to stderr
const log = (...a) => process.stderr.write(`[driver +${Date.now() - started}ms] ${a.join(' ')}\n`)
console.log = console.info = console.debug = console.error

/** JSON with bigints as decimal strings and errors as "Name: message". */
function replacer(_k, v) {
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof Error) return String(v)
  if (v instanceof Uint8Array) return Array.from(v)
  return v
}
/** A JSON-safe deep copy (taken at once, so later changes of the object do not show). */
function safe(v) {
  try {
    const s = JSON.stringify(v, replacer)
    return s === undefined ? null : JSON.parse(s)
  } catch (e) {
    return String(v)
  }
}

let stdoutOpen = true
process.stdout.on('error', (e) => {
  stdoutOpen = false
  log('stdout:', String(e))
})
/** @param {object} obj */
function send(obj) {
  if (!stdoutOpen) return
  let line
  try {
    line = JSON.stringify(obj, replacer)
  } catch (e) {
    line = JSON.stringify({ id: obj.id ?? null, ok: false, error: 'driver: result not encodable: ' + e })
  }
  process.stdout.write(line + '\n')
}

class CmdError extends Error {}
const fail = (msg) => {
  throw new CmdError(msg)
}

// ---- per-client state ----------------------------------------------------------------------

/**
 * A socket that never opens: what a client gets while its network is "down". It reports an
 * error and an abnormal close (1006) on the next turn, like a refused TCP connection.
 */
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
    setTimeout(() => this.#die(), 1)
  }
  #die() {
    if (this.readyState === 3) return
    this.readyState = 3
    try {
      this.onerror?.({ type: 'error', message: 'network offline (chaos driver)' })
    } finally {
      this.onclose?.({ type: 'close', code: 1006, reason: '', wasClean: false })
    }
  }
  send() {
    throw new Error('WebSocket is not open: readyState 0 (CONNECTING)')
  }
  close() {
    if (this.readyState < 2) {
      this.readyState = 2
      setTimeout(() => this.#die(), 0)
    }
  }
  terminate() {
    this.close()
  }
  addEventListener() {}
  removeEventListener() {}
}

/**
 * @typedef {object} ClientState
 * @property {string} name
 * @property {IDBFactory} idb kept for the life of the driver: data and outbox survive close + open
 * @property {EventTarget} events source of the client's `online` / `offline`
 * @property {{type: string, detail: any}[]} recorded events since first opened, across reloads
 * @property {Record<string, number>} statusCounts status changes by new status
 * @property {number} progress progress events seen
 * @property {number} opens
 * @property {SyncClient | BrowserClient | null} client open: a SyncClient here or a page of Chromium
 * @property {'node' | 'browser' | null} where fixed by the first open (the database lives there)
 * @property {boolean} offline
 * @property {Set<any>} sockets ws sockets of this client not closed yet
 * @property {any} WS the WebSocket class handed to the client
 * @property {any} [locks] the Web Locks stand-in shared by the tabs of this database (`tabs`/`tab_of`)
 * @property {string} [token] the credential the tabs of this database send (default: the user)
 * @property {{page: string, received: number}[]} [gonePages] closed pages of a browser client: how
 *   many of their messages arrived (events beyond are relayed from localStorage at the next open)
 */

/** @type {Map<string, ClientState>} */
const clients = new Map()
/** @type {Map<string, Promise<void>>} per-client command queues */
const queues = new Map()
/** @type {{message: string, at: number}[]} uncaught errors not attributable to a client */
const uncaughtGlobal = []
const als = new AsyncLocalStorage()

/** @param {string} name @returns {ClientState} */
function stateFor(name) {
  let st = clients.get(name)
  if (st) return st
  /** @type {ClientState} */
  const s = {
    name,
    idb: new IDBFactory(),
    events: new EventTarget(),
    recorded: [],
    statusCounts: {},
    progress: 0,
    opens: 0,
    client: null,
    where: null,
    offline: false,
    sockets: new Set(),
    WS: null,
  }
  s.WS = class ChaosWebSocket {
    static CONNECTING = 0
    static OPEN = 1
    static CLOSING = 2
    static CLOSED = 3
    /** @param {string} url @param {any} [protocols] */
    constructor(url, protocols) {
      if (s.offline) return /** @type {any} */ (new DeadSocket(url))
      const ws = new WebSocket(url, protocols)
      s.sockets.add(ws)
      // an 'error' without a listener would throw; the client's onerror is set right after this
      ws.on('error', (e) => DEBUG && log(name, 'socket error:', String(e)))
      ws.on('close', (code) => {
        s.sockets.delete(ws)
        if (DEBUG) log(name, 'socket closed', code)
      })
      return /** @type {any} */ (ws)
    }
  }
  clients.set(name, s)
  return s
}

/** Cut every socket of a client abruptly (no close frame). @param {ClientState} st */
function cutSockets(st) {
  for (const ws of st.sockets) {
    try {
      ws.terminate()
    } catch (e) {
      log(st.name, 'terminate:', String(e))
    }
  }
}

/** @param {ClientState} st @param {SyncClient} client */
function record(st, client) {
  for (const type of ['conflict', 'error', 'resync']) {
    client.addEventListener(type, (e) => {
      const detail = safe(/** @type {CustomEvent} */ (e).detail)
      st.recorded.push({ type, detail })
      if (type === 'error' && DEBUG) log(st.name, 'error event', JSON.stringify(detail))
    })
  }
  client.addEventListener('status', (e) => {
    const s = /** @type {CustomEvent} */ (e).detail?.newStatus
    st.statusCounts[s] = (st.statusCounts[s] || 0) + 1
  })
  client.addEventListener('progress', () => st.progress++)
}

// ---- commands ------------------------------------------------------------------------------

const str = (a, k) => (typeof a[k] === 'string' && a[k] ? a[k] : fail(`${a.cmd}: '${k}' (non-empty string) required`))
const strList = (a, k) =>
  Array.isArray(a[k]) && a[k].every((x) => typeof x === 'string' && x) ? a[k] : fail(`${a.cmd}: '${k}' (list of non-empty strings) required`)
const num = (a, k) => (typeof a[k] === 'number' && Number.isFinite(a[k]) && a[k] >= 0 ? a[k] : fail(`${a.cmd}: '${k}' (number >= 0) required`))

/** @param {any} a @returns {ClientState} */
function known(a) {
  const st = clients.get(a.client)
  if (!st) fail(`${a.cmd}: unknown client '${a.client}' (never opened)`)
  return /** @type {ClientState} */ (st)
}
/** @param {any} a @returns {[ClientState, SyncClient | BrowserClient]} */
function opened(a) {
  const st = known(a)
  if (!st.client) fail(`${a.cmd}: client '${a.client}' is not open`)
  return [st, /** @type {SyncClient | BrowserClient} */ (st.client)]
}

// ---- browser clients (browser.mjs, harness.js) ---------------------------------------------

/** @type {BrowserHost | null} Chromium and the page server, started by the first browser open */
let host = null

/** @param {ClientState} st @returns {import('./browser.mjs').Sink} */
const sinkOf = (st) => ({
  event: (type, detail) => st.recorded.push({ type, detail }),
  status: (s) => (st.statusCounts[s] = (st.statusCounts[s] || 0) + 1),
  progress: () => st.progress++,
  log: (...m) => log(...m),
})

/**
 * Run a harness command for a client open in a page; its own errors (a refused document…) are
 * answered as the Node client's would be.
 * @param {BrowserClient} bc @param {string} cmd @param {object} [args]
 */
async function inPage(bc, cmd, args) {
  try {
    return await bc.call(cmd, args)
  } catch (e) {
    if (e instanceof HarnessError) throw new CmdError(e.message)
    throw e
  }
}
/** @param {SyncClient} client @param {string} name */
const coll = (client, name) => client.collection(name)

/**
 * Events earlier pages of this client emitted but the driver never received (the page was killed
 * right after the app saw them): the new page reads them from localStorage, where the harness
 * kept them, and they are recorded now.
 * @param {ClientState} st @param {BrowserClient} bc
 */
async function relayPast(st, bc) {
  const gone = st.gonePages ?? []
  st.gonePages = []
  const past = await inPage(bc, 'pastEvents', { client: st.name })
  for (const { p, line } of past) {
    const page = gone.find((g) => g.page === p)
    const m = JSON.parse(line)
    if (page && m.n <= page.received) continue // it did arrive
    log(st.name, 'event of a killed page, received late:', line.slice(0, 200))
    if (m.kind === 'event') st.recorded.push({ type: m.payload.type, detail: m.payload.detail })
  }
}

/** Commands of one client (run in its queue). @type {Record<string, (a: any) => Promise<object>>} */
const clientCmds = {
  async open(a) {
    const name = a.client
    const url = str(a, 'url')
    const user = str(a, 'user')
    const colls = strList(a, 'colls')
    const backoffMax = a.backoff_max_ms == null ? 500 : num(a, 'backoff_max_ms')
    if (a.browser != null && typeof a.browser !== 'boolean') fail("open: 'browser' is a boolean")
    const where = a.browser ? 'browser' : 'node'
    const st = stateFor(name)
    if (st.client) fail(`open: client '${name}' is already open`)
    if (st.where && st.where !== where) fail(`open: client '${name}' lives in ${st.where === 'node' ? 'Node' : 'Chromium'} (its database is there)`)
    if (where === 'browser') {
      const t0 = Date.now()
      host ??= new BrowserHost(log)
      // `tab_of` / `tabs`: as in Node, but the tabs are pages of one origin: the real IndexedDB,
      // navigator.locks and BroadcastChannel; the token lives in localStorage (harness.js)
      const db = typeof a.tab_of === 'string' && a.tab_of ? a.tab_of : name
      const tabbed = db !== name || a.tabs === true
      const token = typeof a.token === 'string' && a.token ? a.token : null
      const args = { client: name, db, tabbed, token, url, user, colls, backoffMax, offline: st.offline }
      const { bc, result } = await host.open(name, sinkOf(st), args)
      st.client = bc
      st.where = 'browser'
      st.opens++
      await relayPast(st, bc)
      log(name, `open #${st.opens} in chromium (${Date.now() - t0} ms)`, url, 'as', user, db !== name ? `(tab of ${db})` : '', st.offline ? '(offline)' : '')
      return { status: result.status, pending: result.pending }
    }
    // `tab_of`: this client is another tab of that client's database (same IndexedDB, a Web Lock
    // elects the tab holding the connection, BroadcastChannel carries changes and writes between
    // tabs); `tabs`: the first tab of such a database
    const db = typeof a.tab_of === 'string' && a.tab_of ? stateFor(a.tab_of) : st
    const tabbed = db !== st || a.tabs === true
    if (tabbed) db.locks ??= fakeLocks()
    if (typeof a.token === 'string' && a.token) db.token = a.token
    const client = new SyncClient({
      url,
      // the tabs of a database share the token (`token` changes it and asks for an in-band refresh)
      token: async () => db.token ?? user,
      user,
      dbName: 'chaos-' + db.name,
      env: {
        indexedDB: db.idb,
        WebSocket: st.WS,
        locks: tabbed ? db.locks : null,
        BroadcastChannel: tabbed ? globalThis.BroadcastChannel : null,
        document: null,
        events: st.events,
      },
      backoffMin: 20,
      backoffMax,
      connectTimeout: 5000,
    })
    record(st, client)
    st.client = client
    st.where = 'node'
    st.opens++
    for (const c of colls) client.collection(c)
    try {
      // `ready` (the database open) is internal: the driver waits for it to answer `open` with the outbox
      await client.ready
    } catch (e) {
      st.client = null
      await client.close().catch(() => {})
      throw e
    }
    log(name, `open #${st.opens}`, url, 'as', user, st.offline ? '(offline)' : '')
    return { status: client.status, pending: await client.pendingCount() }
  },

  async put(a) {
    const [, client] = opened(a)
    const c = str(a, 'coll')
    if (!a.doc || typeof a.doc !== 'object' || Array.isArray(a.doc)) fail("put: 'doc' (object with an id) required")
    if (client instanceof BrowserClient) return inPage(client, 'put', { coll: c, doc: a.doc })
    await coll(client, c).put(a.doc)
    return {}
  },

  // Put `doc` with `value` appended to the local view's list `field` (read and written atomically)
  // (as an app editing what it shows: the chaos suite's reject-if-stale history).
  async append(a) {
    const [, client] = opened(a)
    const c = str(a, 'coll')
    const field = str(a, 'field')
    if (!a.doc || typeof a.doc !== 'object' || typeof a.doc.id !== 'string') fail("append: 'doc' (object with an id) required")
    if (client instanceof BrowserClient) return inPage(client, 'append', { coll: c, doc: a.doc, field, value: a.value })
    // update(): read and write in one transaction, so the write is based on the version read
    let length = 0
    await coll(client, c).update(a.doc.id, (cur) => {
      const list = cur && Array.isArray(cur[field]) ? cur[field] : []
      length = list.length + 1
      return { ...a.doc, [field]: [...list, a.value] }
    })
    return { length }
  },

  // The user's credential changes (e.g. new claims): every tab of the database sends it from now on;
  // this tab asks for an in-band refresh at once (`refreshed`: the hub accepted it).
  async token(a) {
    const [st, client] = opened(a)
    const token = str(a, 'token')
    if (client instanceof BrowserClient) return inPage(client, 'token', { token })
    const db = typeof a.tab_of === 'string' && a.tab_of ? stateFor(a.tab_of) : st
    db.token = token
    return { refreshed: await /** @type {SyncClient} */ (client).refreshToken() }
  },

  async del(a) {
    const [, client] = opened(a)
    const c = str(a, 'coll')
    const id = str(a, 'doc_id')
    if (client instanceof BrowserClient) return inPage(client, 'del', { coll: c, doc_id: id })
    await coll(client, c).delete(id)
    return {}
  },

  // The local TCP ports of this client's open sockets (Node clients): the chaos proxy finds the
  // client's connections by them (to stop reading for it: a slow consumer).
  async ports(a) {
    const st = known(a)
    if (st.where === 'browser') fail('ports: Node clients only')
    const ports = []
    for (const ws of st.sockets) {
      const p = /** @type {any} */ (ws)._socket?.localPort
      if (typeof p === 'number') ports.push(p)
    }
    return { ports }
  },

  async offline(a) {
    // allowed before the first open too (a client that starts without network)
    const st = stateFor(str(a, 'client'))
    st.offline = true
    if (st.client instanceof BrowserClient) return inPage(st.client, 'offline')
    cutSockets(st)
    st.events.dispatchEvent(new Event('offline'))
    return {}
  },

  async online(a) {
    const st = stateFor(str(a, 'client'))
    st.offline = false
    if (st.client instanceof BrowserClient) return inPage(st.client, 'online')
    st.events.dispatchEvent(new Event('online'))
    return {}
  },

  async close(a) {
    const [st, client] = opened(a)
    if (client instanceof BrowserClient) {
      st.client = null
      // what arrived of this page's events, once it is gone (relayPast at the next open)
      const remember = () => (st.gonePages ??= []).push({ page: client.pageId, received: client.received })
      if (a.abrupt || client.dead) {
        // the tab is killed (or already gone): client.close() never runs, its sockets die with the page
        await client.killAfterEvents()
      } else {
        try {
          await inPage(client, 'close')
        } finally {
          await client.killAfterEvents()
        }
      }
      remember()
      log(st.name, a.abrupt ? 'page killed' : 'closed, page closed')
      return {}
    }
    if (a.abrupt) cutSockets(st)
    st.client = null
    await client.close()
    log(st.name, a.abrupt ? 'closed abruptly' : 'closed')
    return {}
  },

  async reconnect(a) {
    const [, client] = opened(a)
    if (client instanceof BrowserClient) return inPage(client, 'reconnect')
    client.reconnect()
    return {}
  },

  async flush(a) {
    const [, client] = opened(a)
    const ms = num(a, 'timeout_ms')
    if (client instanceof BrowserClient) return inPage(client, 'flush', { timeout_ms: ms })
    const f = client.flush()
    f.catch(() => {}) // may reject after the timeout won (sync stopped): nobody listens then
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer
    const flushed = await Promise.race([f.then(() => true, () => false), new Promise((r) => (timer = setTimeout(() => r(false), ms)))])
    clearTimeout(timer)
    return { flushed, pending: await client.pendingCount() }
  },

  async status(a) {
    const [st, client] = opened(a)
    if (client instanceof BrowserClient) return { ...(await inPage(client, 'status')), network_down: st.offline }
    return { status: client.status, pending: await client.pendingCount(), network_down: st.offline }
  },

  async dump(a) {
    const [st, client] = opened(a)
    const colls = strList(a, 'colls')
    if (client instanceof BrowserClient) {
      const r = await inPage(client, 'dump', { colls })
      await client.caughtUp(r.emitted, 10000) // the page's events sent before the dump are in st.recorded
      return {
        data: r.data,
        pending: r.pending,
        events: st.recorded,
        status: r.status,
        status_changes: st.statusCounts,
        progress_events: st.progress,
        opens: st.opens,
      }
    }
    /** @type {Record<string, Record<string, any>>} */
    const data = {}
    for (const c of colls) {
      // a collection not opened is read without subscribing it (internals: `colls`, the Collection constructor)
      const col = client.colls.get(c) ?? new Collection(client, c)
      const docs = await col.getAll()
      data[c] = {}
      for (const d of docs) data[c][d.id] = safe(d)
    }
    const pending = (await client.pendingWrites()).map((p) => ({ seq: p.seq, coll: p.coll, id: p.id, op: p.op }))
    return {
      data,
      pending,
      events: st.recorded,
      status: client.status,
      status_changes: st.statusCounts,
      progress_events: st.progress,
      opens: st.opens,
    }
  },

  // test hook: an exception / a rejection nobody handles, in this client's context
  async _uncaught(a) {
    const st = known(a)
    if (st.client instanceof BrowserClient) return inPage(st.client, '_uncaught', { kind: a.kind, message: a.message })
    const msg = typeof a.message === 'string' ? a.message : 'test'
    if (a.kind === 'rejection') setTimeout(() => Promise.reject(new Error(msg)), 1)
    else
      setTimeout(() => {
        throw new Error(msg)
      }, 1)
    return {}
  },

  // test hook: the app in a browser client's page sees an event whose message to the driver is lost
  async _lostEvent(a) {
    const [st, client] = opened(a)
    if (!(client instanceof BrowserClient)) fail(`_lostEvent: client '${st.name}' is not in Chromium`)
    return inPage(client, '_lostEvent', { type: str(a, 'type'), detail: a.detail ?? null })
  },

  // test hook: the page of a browser client crashes (its renderer dies)
  async _crash(a) {
    const [st, client] = opened(a)
    if (!(client instanceof BrowserClient)) fail(`_crash: client '${st.name}' is not in Chromium`)
    await client.crash()
    return {}
  },
}

/** Wait (at most `ms`) for the commands already queued, then close every open client. */
async function closeAll(ms = 30000) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  const drained = Promise.all([...queues.values()].map((q) => q.catch(() => {}))).then(() => true)
  const inTime = await Promise.race([drained, new Promise((r) => (timer = setTimeout(() => r(false), ms)))])
  clearTimeout(timer)
  if (!inTime) log(`commands still running after ${ms} ms: closing the clients anyway`)
  await Promise.all(
    [...clients.values()].map(async (st) => {
      const c = st.client
      if (!c) return
      st.client = null
      try {
        if (c instanceof BrowserClient) {
          /** @type {ReturnType<typeof setTimeout> | undefined} */
          let t
          const closed = c.call('close').then(() => true)
          closed.catch(() => {})
          if (!(await Promise.race([closed, new Promise((r) => (t = setTimeout(() => r(false), 5000)))]))) log(st.name, 'client.close() in the page took over 5 s')
          clearTimeout(t)
        } else await c.close()
      } catch (e) {
        log(st.name, 'close:', String(e))
      } finally {
        if (c instanceof BrowserClient) await c.kill()
      }
    })
  )
  if (host) await host.close()
}

let quitting = false
/** @param {number} code */
function exit(code) {
  // let the answer reach the pipe, then go (timers and sockets of closed clients must not keep us)
  if (process.stdout.writableLength === 0) process.exit(code)
  process.stdout.write('', () => process.exit(code))
  setTimeout(() => process.exit(code), 2000).unref()
}

/** @param {any} m */
async function globalCmd(m) {
  if (m.cmd === 'ping') return { uncaught: uncaughtGlobal, clients: [...clients.keys()].filter((n) => clients.get(n)?.client) }
  // quit: the commands sent before it finish first; nothing sent after it runs
  quitting = true
  await closeAll()
  return {}
}

/** @param {string} line */
function onLine(line) {
  if (!line.trim()) return
  let m
  try {
    m = JSON.parse(line)
  } catch (e) {
    send({ id: null, ok: false, error: 'bad JSON: ' + /** @type {Error} */ (e).message })
    return
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) {
    send({ id: null, ok: false, error: 'a request is a JSON object' })
    return
  }
  const id = m.id ?? null
  const answer = (p) =>
    p.then(
      (r) => send({ id, ok: true, ...r }),
      (e) => {
        if (!(e instanceof CmdError) && DEBUG) log(`${m.cmd} ${m.client ?? ''}:`, e?.stack ?? String(e))
        send({ id, ok: false, error: e instanceof Error ? e.message || String(e) : String(e) })
      }
    )
  if (DEBUG) log('<', line)
  if (quitting) {
    send({ id, ok: false, error: 'the driver is quitting' })
    return
  }
  if (m.cmd === 'ping' || m.cmd === 'quit') {
    answer(globalCmd(m)).then(() => m.cmd === 'quit' && exit(0))
    return
  }
  const fn = typeof m.cmd === 'string' && Object.hasOwn(clientCmds, m.cmd) ? clientCmds[m.cmd] : null
  if (!fn) {
    send({ id, ok: false, error: `unknown command ${JSON.stringify(m.cmd)}` })
    return
  }
  if (typeof m.client !== 'string' || !m.client) {
    send({ id, ok: false, error: `${m.cmd}: 'client' (non-empty string) required` })
    return
  }
  const name = m.client
  const prev = queues.get(name) ?? Promise.resolve()
  // run in the client's async context, so uncaught errors of its timers and sockets are its own
  const run = prev.then(() => als.run(name, () => fn(m)))
  const done = answer(run)
  queues.set(name, done)
  done.then(() => queues.get(name) === done && queues.delete(name))
}

/** @param {string} kind @param {unknown} e */
function uncaught(kind, e) {
  const message = e instanceof Error ? e.message || String(e) : String(e)
  const name = als.getStore()
  const st = typeof name === 'string' ? clients.get(name) : undefined
  log(`${kind}${st ? ' in ' + st.name : ''}:`, e instanceof Error ? e.stack : message)
  if (st) st.recorded.push({ type: 'uncaught', detail: { message, kind } })
  else uncaughtGlobal.push({ message, kind, at: Date.now() - started })
}
process.on('uncaughtException', (e) => uncaught('uncaughtException', e))
process.on('unhandledRejection', (e) => uncaught('unhandledRejection', e))

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', onLine)
rl.on('close', async () => {
  if (quitting) return
  quitting = true
  log('stdin closed: closing every client')
  await closeAll()
  exit(0)
})
log(`ready (pid ${process.pid})`)

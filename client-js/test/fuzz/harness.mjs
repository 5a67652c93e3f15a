// Runs one fuzz input (frames.mjs) against the real client: src/ as shipped, fake-indexeddb, a
// scripted WebSocket, fake timers and clock. Returns the failures it saw; none is the pass.
//
// What is checked (docs/protocol.md, docs/client.md):
// - nothing escapes: no exception out of a socket handler, no uncaught exception, no unhandled
//   rejection;
// - every reaction is a documented one: a frame is ignored or applied, or the client closes with
//   a protocol code (4000 bad frame, 4001 bad message, 4004 unknown type, 4009 too large) and
//   reports `error {kind: 'protocol', code}`, or it reports one of the documented events; a frame
//   a conforming hub could send is never refused; text, truncated, oversized frames and unknown
//   types are always refused, with their code;
// - the frames the client sends pass the hub's checks (hub/core/messages.py) and it sends no
//   `sub`/`mut` before a `welcome` it accepted;
// - no hang: every step settles (the fake-indexeddb task queue drains) within a bounded number of
//   event-loop turns; timers stay few; events stay proportional to what the frames hold;
// - the database stays well formed: documents are plain maps carrying their id, within the
//   document limits the client followed, only in the collections the app opened; versions and
//   cursors within what the hub accepts back; `pend` equals the document's outbox entries;
// - the outbox keeps every write the app made before the frames, until an ack answers that write
//   after it was sent on the same connection;
// - a valid session afterwards works: welcome, page, synced deliver a new document to every
//   collection, every pending write is sent and acknowledged, the status is `live`.
import 'fake-indexeddb/auto'
import { isDeepStrictEqual } from 'node:util'
import { IDBFactory } from 'fake-indexeddb'
import { Decoder, ExtData } from '@msgpack/msgpack'
import { SyncClient, ProtocolViolation } from '../../src/index.js'
import { DOC_LIMITS, OVERSIZE } from '../../src/core/limits.js'
import { COLLS, EPOCH, KNOWN_TYPES, MAX_FRAME, applyByteOps, encodeFrame, materialize, rng } from './frames.mjs'

const T0 = 1_700_000_000_000
const I64_MAX = 2n ** 63n - 1n
const I64_MIN = -(2n ** 63n)
const PROTOCOL_CODES = [4000, 4001, 4004, 4009]
const SETTLE_TURNS = 20000

// ---- event-loop accounting: fake-indexeddb schedules its work with setImmediate -----------------

const realSetImmediate = globalThis.setImmediate
let pendingTasks = 0
globalThis.setImmediate = /** @type {any} */ ((fn, ...args) => {
  pendingTasks++
  return realSetImmediate(() => {
    pendingTasks--
    fn(...args)
  })
})
const turn = () => new Promise((r) => realSetImmediate(r))

/** Wait until no database work is queued. @returns {Promise<boolean>} false: it never stopped */
async function settle() {
  for (let i = 0; i < SETTLE_TURNS; i++) {
    await turn()
    if (pendingTasks === 0) {
      await turn()
      if (pendingTasks === 0) return true
    }
  }
  return false
}

// ---- escapes ----------------------------------------------------------------------------------

/** @type {{failures: string[]} | null} the input running now */
let current = null
/** @type {string[]} escapes between two inputs: charged to the next one */
const late = []
let installed = false
function installEscapeHooks() {
  if (installed) return
  installed = true
  const escape = (what) => (e) => (current ? current.failures : late).push(`${what}: ${short(e)}`)
  process.on('unhandledRejection', escape('unhandled rejection'))
  process.on('uncaughtException', escape('uncaught exception'))
}
const short = (e) => String(e?.stack || e).split('\n').slice(0, 3).join(' | ').slice(0, 400)

// ---- fake timers (browser semantics: the delay is a 32-bit int, negative = 0) -----------------

class Clock {
  t = T0
  id = 0
  /** @type {Map<number, {at: number, fn: () => void}>} */
  timers = new Map()
  now = () => this.t
  setTimeout = (fn, ms) => {
    let d = Number(ms) | 0
    if (!(d > 0)) d = 0
    this.timers.set(++this.id, { at: this.t + d, fn })
    return this.id
  }
  clearTimeout = (id) => {
    this.timers.delete(id)
  }
  next() {
    let best = null
    for (const [id, t] of this.timers) if (!best || t.at < best[1].at) best = [id, t]
    return best
  }
  /** Fire the earliest timer due by `until`; false when none is. */
  fireOne(until) {
    const n = this.next()
    if (!n || n[1].at > until) return false
    this.timers.delete(n[0])
    this.t = Math.max(this.t, n[1].at)
    n[1].fn()
    return true
  }
}

// ---- hub-side checks of what the client sends (hub/core/messages.py) --------------------------

const isInt64 = (v) => (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'bigint' && v >= I64_MIN && v <= I64_MAX)
const isMap = (v) => v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && !(v instanceof ExtData)
const strOf = (v, max) => typeof v === 'string' && v.length >= 1 && v.length <= max
const utf8 = (s) => new TextEncoder().encode(s).length

/** @returns {string} what the hub would refuse, '' when nothing */
function hubRefuses(m) {
  if (!isMap(m)) return 'not a map'
  switch (m.t) {
    case 'hello':
      if (!Array.isArray(m.v) || !m.v.length || !m.v.every(isInt64)) return 'hello.v'
      if (!strOf(m.client, 128)) return 'hello.client'
      if (m.token != null && typeof m.token !== 'string') return 'hello.token'
      if (m.now != null && !(typeof m.now === 'number' && m.now >= 0)) return 'hello.now'
      return ''
    case 'sub':
      if (!isInt64(m.id)) return 'sub.id'
      if (!strOf(m.coll, 256)) return 'sub.coll'
      if (m.cursor != null && !(Array.isArray(m.cursor) && m.cursor.length === 2 && typeof m.cursor[0] === 'string' && isInt64(m.cursor[1]) && m.cursor[1] >= 0)) return `sub.cursor ${show(m.cursor)}`
      return ''
    case 'mut':
      if (!Array.isArray(m.batch) || !m.batch.length) return 'mut.batch'
      for (const x of m.batch) {
        if (!isMap(x) || !isInt64(x.seq) || x.seq < 1) return 'mut.seq'
        if (!strOf(x.coll, 256)) return 'mut.coll'
        if (!(typeof x.id === 'string' && x.id && utf8(x.id) <= 512)) return 'mut.id'
        if (x.op !== 'put' && x.op !== 'del') return 'mut.op'
        if (!isInt64(x.ts)) return `mut.ts ${show(x.ts)}`
        if (x.base != null && !(isInt64(x.base) && x.base >= 0)) return `mut.base ${show(x.base)}`
        if (x.op === 'put' && (!isMap(x.doc) || OVERSIZE in x.doc || ('id' in x.doc && x.doc.id !== x.id))) return 'mut.doc'
      }
      return ''
    case 'ping':
    case 'pong':
      return isInt64(m.n) ? '' : `${m.t}.n`
    case 'auth':
      return typeof m.token === 'string' && utf8(m.token) <= 8192 ? '' : 'auth.token'
    case 'unsub':
      return strOf(m.coll, 256) ? '' : 'unsub.coll'
  }
  return `unknown type ${show(m.t)}`
}
const show = (v) => {
  try {
    return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))?.slice(0, 120)
  } catch {
    return String(v)
  }
}

// ---- document checks --------------------------------------------------------------------------

/** Largest entries, depth; the msgpack size (without `id`) is checked by encoding. */
function measure(doc) {
  let entries = 0
  let depth = 0
  const stack = [[doc, 1]]
  for (let top; (top = stack.pop()); ) {
    const [v, d] = top
    if (!v || typeof v !== 'object' || v instanceof Uint8Array || v instanceof Date) continue
    const items = Object.values(v)
    entries = Math.max(entries, items.length)
    depth = Math.max(depth, d)
    for (const x of items) stack.push([x, d + 1])
  }
  return { entries, depth }
}

/** @returns {string} what is wrong with a stored document, '' when nothing */
function docWrong(doc, id, lim) {
  if (doc === null) return ''
  if (!doc || typeof doc !== 'object' || Object.getPrototypeOf(doc) !== Object.prototype) return 'not a plain map'
  if (doc.id !== id) return `id ${show(doc.id)} instead of ${show(id)}`
  const { id: _, ...body } = doc
  const { entries, depth } = measure(body)
  if (entries > lim.entries) return `${entries} entries > ${lim.entries}`
  if (depth > lim.depth) return `depth ${depth} > ${lim.depth}`
  let size
  try {
    size = encodeFrame(body).byteLength
  } catch (e) {
    return 'not encodable: ' + short(e)
  }
  if (size > lim.bytes) return `${size} bytes > ${lim.bytes}`
  return ''
}

/** The value a frame holds, if it decodes. */
function decoded(data) {
  if (typeof data === 'string') return undefined
  try {
    return new Decoder({ useBigInt64: true }).decode(data)
  } catch {
    return undefined
  }
}

const isVer = (v) => typeof v === 'bigint' && v >= 0n && v <= I64_MAX

// ---- one input --------------------------------------------------------------------------------

/**
 * @param {any} input from frames.mjs `generate`, or a corpus file
 * @returns {Promise<{failures: string[], stats: {steps: number, frames: number, closes: number, events: number}}>}
 */
export async function runInput(input) {
  installEscapeHooks()
  const run = new Run(input)
  current = run
  for (const f of late.splice(0)) run.fail(`after the previous input: ${f}`)
  try {
    await run.main()
  } catch (e) {
    run.fail(`harness: ${short(e)}`)
  } finally {
    // an input cut short (a hang) still lets its client go
    if (run.client && !run.closed) run.client.close().catch(() => {})
    await turn()
    current = null
  }
  return { failures: [...new Set(run.failures)], stats: run.stats }
}

class Run {
  constructor(input) {
    this.input = input
    /** @type {string[]} */
    this.failures = []
    this.stats = { steps: 0, frames: 0, closes: 0, events: 0 }
    this.clock = new Clock()
    this.r = rng((input.seed ^ input.index ^ 0x5bd1e995) >>> 0)
    /** @type {FakeSocket[]} */
    this.sockets = []
    this.hubVer = BigInt(T0) << 16n
    /** seqs of the writes made before the frames */
    this.pre = new Set()
    /** seqs answered by an ack after they were sent on the same connection */
    this.acked = new Set()
    /** @type {{type: string, detail: any, step: number}[]} */
    this.events = []
    this.step = -1
    /** the largest document limits the client followed */
    this.lim = { ...DOC_LIMITS }
    this.items = 0
    this.auto = false
    this.closed = false
    /** @type {SyncClient | undefined} */
    this.client = undefined
    /** @type {Promise<unknown>[]} */
    this.promises = []
  }

  fail(msg) {
    this.failures.push(this.step >= 0 ? `step ${this.step}: ${msg}` : msg)
  }

  get sock() {
    const s = this.sockets[this.sockets.length - 1]
    return s && s.state === 'open' ? s : null
  }

  async main() {
    const input = this.input
    const run = this
    const clock = this.clock
    this.FakeWS = class extends FakeSocket {
      constructor(url) {
        super(run, url)
      }
    }
    const token =
      input.token === 'none' ? null : input.token === 'static' ? 'tok' : async () => jwt({ sub: input.user ?? 'anon', exp: Math.floor(clock.now() / 1000) + 120 })
    const client = new SyncClient({
      url: 'ws://hub.invalid/sync',
      dbName: 'fuzz',
      user: input.user,
      token,
      WebSocket: /** @type {any} */ (this.FakeWS),
      indexedDB: new IDBFactory(),
      locks: null,
      BroadcastChannel: null,
      events: null,
      document: null,
      now: clock.now,
      random: () => this.r.next(),
      timers: clock,
      backoffMin: 100,
      backoffMax: 2000,
      limits: { maxFrame: MAX_FRAME },
    })
    this.client = client
    for (const type of ['status', 'progress', 'resync', 'conflict', 'error']) {
      client.addEventListener(type, (e) => this.events.push({ type, detail: /** @type {CustomEvent} */ (e).detail, step: this.step }))
    }
    const colls = Object.fromEntries(COLLS.map((c) => [c, client.collection(c)]))
    for (const c of COLLS) colls[c].subscribe((changes) => this.changes(c, changes))

    // offline writes, then the socket opens
    await Promise.all(input.writes.map((w) => (w.doc ? colls[w.c].put(w.doc) : colls[w.c].delete(w.id))))
    if (!(await settle())) return this.fail('hang before connecting')
    for (const e of await client.pendingWrites()) this.pre.add(e.seq)
    if (this.pre.size !== input.writes.length) this.fail(`outbox holds ${this.pre.size} writes of ${input.writes.length}`)
    await this.openLatest()

    for (this.step = 0; this.step < input.steps.length; this.step++) {
      const before = this.events.length
      await this.play(input.steps[this.step], colls)
      this.stats.steps++
      if (!(await settle())) return this.fail('hang: database work never stopped')
      this.checkStep(before)
    }
    this.step = -1
    await this.checkOutboxKept()
    await this.checkDatabase('after the frames')

    await this.validSession(colls)
    await this.checkDatabase('after a valid session')
    await this.checkOutboxKept()

    this.closed = true
    await client.close()
    await settle()
    if (this.clock.timers.size) this.fail(`${this.clock.timers.size} timers left after close()`)
    if (this.sockets.some((s) => s.state === 'open')) this.fail('a socket left open after close()')
    const hanging = await Promise.race([Promise.allSettled(this.promises).then(() => false), turn().then(() => turn()).then(() => true)])
    if (hanging) this.fail('a refreshToken() promise never settled')
    this.stats.events = this.events.length
    const bound = 100 + 20 * input.steps.length + 3 * this.items
    if (this.events.length > bound) this.fail(`${this.events.length} events for ${this.items} items in ${input.steps.length} steps`)
  }

  /** Open the newest socket if it is still connecting (the hub accepts every connection). */
  async openLatest() {
    const s = this.sockets[this.sockets.length - 1]
    if (s && s.state === 'new') {
      s.state = 'open'
      this.guard('onopen', () => s.onopen?.({}))
      await settle()
    }
  }

  /** Let fake time run until a socket is open (reconnect backoff); false if none comes. */
  async ensureSocket(maxMs = 60000) {
    const until = this.clock.t + maxMs
    for (let i = 0; i < 50 && !this.sock; i++) {
      await this.openLatest()
      if (this.sock) break
      if (this.client.syncer?.stopped || !this.clock.fireOne(until)) break
      await settle()
    }
    await this.openLatest()
    return !!this.sock
  }

  async wait(ms) {
    const until = this.clock.t + ms
    for (let i = 0; i < 200 && this.clock.fireOne(until); i++) {
      await settle()
      await this.openLatest()
    }
    this.clock.t = Math.max(this.clock.t, until)
  }

  /** Call a client handler; an exception out of it is an escape. */
  guard(what, fn) {
    try {
      fn()
    } catch (e) {
      this.fail(`exception out of ${what}: ${short(e)}`)
    }
  }

  async play(st, colls) {
    switch (st.k) {
      case 'wait':
        return this.wait(st.ms)
      case 'put':
        this.promises.push((st.doc ? colls[st.c].put({ ...st.doc, id: st.id }) : colls[st.c].delete(st.id)).catch((e) => /^put: /.test(e?.message) || this.fail(`put rejected: ${short(e)}`)))
        return
      case 'refresh':
        this.promises.push(this.client.refreshToken())
        return
    }
    if (!(await this.ensureSocket())) return
    const mark = this.mark()
    let expect = null
    if (st.k === 'burst') for (const x of st.steps) this.now(x)
    else expect = this.now(st)
    await settle()
    this.checkReaction(mark, st, expect)
  }

  /** What a step's reaction is compared with. */
  mark() {
    return { events: this.events.length, closed: this.sockets.map((s) => s.closedBy || s.hubClose) }
  }

  /**
   * Play one step at once (no waiting): a frame, a hub close, due timers, opening a socket.
   * @returns {number[] | null} the close codes a frame must get, when the protocol says
   */
  now(st) {
    const s = this.sock
    switch (st.k) {
      case 'fire':
        for (let i = 0; i < 20 && this.clock.fireOne(this.clock.t); i++);
        return null
      case 'open': {
        const n = this.sockets[this.sockets.length - 1]
        if (n && n.state === 'new') {
          n.state = 'open'
          this.guard('onopen', () => n.onopen?.({}))
        }
        return null
      }
      case 'close':
        if (s) {
          s.state = 'closed'
          s.hubClose = st.code
          this.guard('onclose', () => s.onclose?.({ code: st.code, reason: st.reason, wasClean: true }))
        }
        return null
    }
    if (!s) return null
    let data
    let expect = null
    if (st.k === 'text') {
      data = st.s
      expect = [4000]
    } else if (st.k === 'big') {
      data = new Uint8Array(st.n).fill(0x90)
      expect = [4009]
    } else if (st.k === 'raw') {
      data = Uint8Array.from((st.hex.match(/../g) || []).map((x) => parseInt(x, 16)))
    } else {
      const value = materialize(st.m, (name, tag) => this.ref(name, tag, s))
      data = encodeFrame(value)
      if (!st.ops) this.seen(value, s)
      if (st.ops) {
        data = applyByteOps(data, st.ops)
        if (st.ops.length === 1 && (st.ops[0][0] === 'trunc' || st.ops[0][0] === 'append')) expect = [4000]
      } else if (Array.isArray(value)) {
        if (st.nonMap) expect = [4000]
      } else if (!KNOWN_TYPES.includes(/** @type {any} */ (value)?.t)) {
        expect = [4004, 4000]
      }
      if (data.byteLength > MAX_FRAME) expect = [4009]
    }
    if (st.k !== 'msg' || st.ops) this.seen(decoded(data), s)
    this.stats.frames++
    const ab = typeof data === 'string' ? data : data.slice().buffer
    this.guard('onmessage', () => s.onmessage?.({ data: ab }))
    return expect
  }

  /** The client's reaction to a step: only documented closes, each with its event. */
  checkReaction(mark, st, expect) {
    const events = this.events.slice(mark.events)
    const errs = (kind) => events.filter((e) => e.type === 'error' && e.detail.kind === kind).map((e) => e.detail)
    const closes = this.sockets.filter((s, i) => s.closedBy && !mark.closed[i]).map((s) => /** @type {{code: number, reason: string}} */ (s.closedBy))
    this.stats.closes += closes.length
    const protocol = errs('protocol').map((d) => d.code).sort()
    const coded = closes.filter((c) => PROTOCOL_CODES.includes(c.code)).map((c) => c.code).sort()
    if (String(protocol) !== String(coded)) this.fail(`protocol closes ${coded} but protocol events ${protocol}`)
    for (const c of closes) {
      if (PROTOCOL_CODES.includes(c.code) || (c.code === 1000 && c.reason === 'timeout')) continue
      if (c.code === 1000 && c.reason === 'user-mismatch' && errs('user-mismatch').length) continue
      this.fail(`client closed ${c.code} ${c.reason}`)
    }
    // 4010 stops as `unauthorized`, the other codes as `closed`
    const fatal = errs('closed').length + errs('unauthorized').filter((d) => d.code === 4010).length
    const stops = this.sockets.filter((s, i) => s.hubClose && !mark.closed[i] && s.hubClose >= 4000 && s.hubClose < 4500).length
    if (fatal !== stops) this.fail(`${stops} hub closes 4000-4499 but ${fatal} fatal close events`)
    if (st.k === 'burst') return
    const mine = closes[0]
    if (st.valid && mine && PROTOCOL_CODES.includes(mine.code)) this.fail(`a valid ${Array.isArray(st.m) ? 'batch' : st.m.t} frame refused: ${mine.code} ${mine.reason}`)
    if (expect && !(mine && expect.includes(mine.code))) this.fail(`expected close ${expect.join('/')}, got ${mine ? mine.code + ' ' + mine.reason : 'none'}`)
  }

  /** Resolve a `$ref` of a template against the connection it goes to. */
  ref(name, tag, s) {
    switch (name) {
      case 'ver':
        return (this.hubVer += BigInt(1 + this.r.int(1000)))
      case 'cur':
        return [EPOCH, this.hubVer]
      case 'sub':
        return s.subs.get(tag.c) ?? 1
      case 'ack': {
        const batch = s.batches.shift() || []
        return batch.map((seq) => ({ seq, s: 'ok', ver: (this.hubVer += 1n) }))
      }
    }
    throw new Error('unknown ref ' + name)
  }

  /** Note what a delivered frame holds: the acks it gives for sent writes, how many items. */
  seen(m, s) {
    // a batch: its frames, unless an element that is not a map refuses the whole message
    if (Array.isArray(m) && m.every(isMap)) for (const x of m) this.seen(x, s)
    if (!isMap(m)) return
    if (Array.isArray(m.changes)) this.items += m.changes.length
    if (m.t === 'ack' && Array.isArray(m.results)) {
      this.items += m.results.length
      for (const r of m.results) {
        const seq = isMap(r) && (typeof r.seq === 'bigint' ? Number(r.seq) : r.seq)
        if (s.sent.has(seq)) this.acked.add(seq)
      }
    }
  }

  /** A frame the client sent. */
  sent(s, data) {
    let m
    try {
      m = new Decoder({ useBigInt64: true }).decode(/** @type {Uint8Array} */ (data))
    } catch (e) {
      return this.fail(`client sent an undecodable frame: ${short(e)}`)
    }
    const why = hubRefuses(m)
    if (why) this.fail(`client sent a frame the hub refuses: ${why}`)
    if (!s.hello) {
      if (m.t !== 'hello') this.fail(`client sent ${m.t} before hello`)
      s.hello = true
    } else if (m.t === 'hello') this.fail('client sent a second hello')
    if ((m.t === 'sub' || m.t === 'mut') && !this.client.syncer?.welcomed) this.fail(`client sent ${m.t} before an accepted welcome`)
    if (m.t === 'sub') s.subs.set(m.coll, Number(m.id))
    if (m.t === 'mut' && Array.isArray(m.batch)) {
      const seqs = m.batch.map((x) => Number(x.seq))
      for (const q of seqs) s.sent.add(q)
      s.batches.push(seqs)
    }
    if (this.auto) this.autoAnswer(s, m)
  }

  /** Checks after every step. */
  checkStep(before) {
    for (const e of this.events.slice(before)) this.checkEvent(e)
    this.follow()
    if (this.clock.timers.size > 6) this.fail(`${this.clock.timers.size} timers pending`)
    if (this.client.wq.length || this.client.writing) this.fail('write queue not drained')
    if (this.client.dead) this.fail(`client dead: ${short(this.client.dead)}`)
  }

  checkEvent({ type, detail: d }) {
    if (type === 'status') return
    if (type === 'progress') return typeof d.coll === 'string' || this.fail('progress without coll')
    if (type === 'resync') return COLLS.includes(d.coll) || this.fail(`resync event for ${show(d.coll)}`)
    if (type === 'conflict') return (COLLS.includes(d.coll) && typeof d.id === 'string') || this.fail(`conflict event for no write of the app: ${show(d)}`)
    switch (d.kind) {
      case 'protocol':
        if (!(d.cause instanceof ProtocolViolation) || !PROTOCOL_CODES.includes(d.code)) this.fail(`protocol event ${show(d)}`)
        return
      case 'closed':
        if (d.code === 4010) this.fail('4010 reported as closed, not unauthorized')
        return
      case 'unauthorized':
        if (d.code !== 4010 || !d.fatal) this.fail(`unauthorized event ${show(d)}`)
        return
      case 'mutation':
        if (!COLLS.includes(d.coll) || typeof d.id !== 'string' || !Number.isSafeInteger(d.seq)) this.fail(`mutation error for no write of the app: ${show({ ...d, local: undefined, server: undefined })}`)
        return
      case 'sub':
      case 'unsub':
        if (!COLLS.includes(d.coll)) this.fail(`${d.kind} event for ${show(d.coll)}`)
        return
      case 'auth':
      case 'hub':
        return
      case 'user-mismatch':
        if (this.input.user == null) this.fail('user-mismatch without a user')
        return
    }
    this.fail(`error event ${d.kind}: ${short(d.cause ?? d.message)}`)
  }

  /** Note the document limits the client follows now (stored documents may keep to the largest). */
  follow() {
    const limits = this.client.o.docLimits
    for (const k of /** @type {const} */ (['bytes', 'entries', 'depth'])) this.lim[k] = Math.max(this.lim[k], limits[k])
  }

  changes(c, changes) {
    this.follow()
    for (const ch of changes) {
      if (ch.type === 'put' && docWrong(ch.doc, ch.id, this.lim) && !ch.oversize) this.fail(`change event of ${c}/${ch.id}: ${docWrong(ch.doc, ch.id, this.lim)}`)
    }
  }

  async checkOutboxKept() {
    const left = new Set((await this.client.pendingWrites()).map((e) => e.seq))
    for (const seq of this.pre) if (!left.has(seq) && !this.acked.has(seq)) this.fail(`write seq ${seq} left the outbox without an ack of a sent mutation`)
  }

  /** Read the whole database and check its shape. */
  async checkDatabase(when) {
    const { store } = await this.client.ready
    const db = store.db
    const all = (name) =>
      new Promise((res, rej) => {
        const tx = db.transaction(name, 'readonly')
        const os = tx.objectStore(name)
        const keys = os.getAllKeys()
        const vals = os.getAll()
        tx.oncomplete = () => res(keys.result.map((k, i) => [k, vals.result[i]]))
        tx.onerror = () => rej(tx.error)
      })
    const [docs, outbox, meta] = await Promise.all([all('docs'), all('outbox'), all('meta')])
    const bad = (what) => this.fail(`${when}: ${what}`)
    /** @type {Map<string, number>} */
    const pending = new Map()
    const firstDep = new Map()
    /** @type {Map<string, any>} the newest pending write of each document */
    const newest = new Map()
    for (const [, e] of outbox) {
      const where = `outbox ${show(e.seq)}`
      if (!Number.isSafeInteger(e.seq) || e.seq < 1) bad(`${where}: seq`)
      if (!COLLS.includes(e.c) || typeof e.id !== 'string' || !e.id) bad(`${where}: c/id`)
      if (e.op !== (e.doc ? 'put' : 'del')) bad(`${where}: op ${e.op}`)
      if (!isVer(e.ts) || e.ts === 0n) bad(`${where}: ts ${show(e.ts)}`)
      if (!isVer(e.base)) bad(`${where}: base ${show(e.base)}`)
      if (typeof e.dep !== 'boolean') bad(`${where}: dep`)
      const k = JSON.stringify([e.c, e.id])
      pending.set(k, (pending.get(k) || 0) + 1)
      if (!firstDep.has(k)) firstDep.set(k, e.dep)
      newest.set(k, e.doc)
    }
    for (const [k, dep] of firstDep) if (dep) bad(`the oldest pending write of ${k} waits for an earlier one that is gone`)
    for (const [, rec] of docs) {
      const k = JSON.stringify([rec.c, rec.id])
      if (!COLLS.includes(rec.c)) bad(`document ${k} in a collection the app never opened`)
      if (!isVer(rec.ver)) bad(`document ${k}: ver ${show(rec.ver)}`)
      if (rec.pend !== (pending.get(k) || 0)) bad(`document ${k}: pend ${rec.pend}, ${pending.get(k) || 0} outbox entries`)
      if (newest.has(k) && !isDeepStrictEqual(rec.doc, newest.get(k))) bad(`document ${k}: the view ${show(rec.doc)} is not the pending write ${show(newest.get(k))}`)
      pending.delete(k)
      const w = docWrong(rec.doc, rec.id, this.lim)
      if (w) bad(`document ${k}: ${w}`)
      if (rec.srv !== null && rec.srv !== undefined) {
        const ws = docWrong(rec.srv, rec.id, this.lim)
        if (ws) bad(`document ${k} server copy: ${ws}`)
        if (!rec.pend) bad(`document ${k}: server copy kept without pending writes`)
      }
    }
    for (const k of pending.keys()) bad(`outbox entries for ${k} without a document`)
    for (const [key, v] of meta) {
      if (key === 'client') continue
      if (key === 'clock') {
        if (!Number.isSafeInteger(v.seq) || !isVer(v.ts)) bad(`clock ${show(v)}`)
        continue
      }
      const c = String(key).startsWith('cur:') ? String(key).slice(4) : null
      if (c === null || !COLLS.includes(c)) bad(`meta key ${show(key)}`)
      else if (!(Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && isVer(v[1]))) bad(`cursor of ${c}: ${show(v)}`)
    }
  }

  /** After the frames: a conforming hub on a new connection. */
  async validSession(colls) {
    const client = this.client
    if (client.dead) return this.fail('client dead before the valid session')
    if (client.syncer?.stopped) {
      client.reconnect()
      await settle() // the token function answers before the socket opens
    }
    const s = this.sock
    if (s) {
      this.now({ k: 'close', code: 4500, reason: 'going away' })
      await settle()
    }
    this.auto = true
    if (!(await this.ensureSocket())) return this.fail('no new connection for the valid session')
    // what the hub answered arrives together, as it would over one socket
    for (let i = 0; i < 100 && this.sock?.queue.length; i++) {
      const sock = /** @type {FakeSocket} */ (this.sock)
      for (const value of sock.queue.splice(0)) {
        const data = encodeFrame(value)
        this.seen(value, sock)
        this.guard('onmessage', () => sock.onmessage?.({ data: data.slice().buffer }))
      }
      if (!(await settle())) return this.fail('hang in the valid session')
    }
    if (!this.sock) return this.fail(`the valid session was closed: ${show(this.sockets[this.sockets.length - 1].closedBy)}`)
    if (client.status !== 'live') this.fail(`status ${client.status} after a valid session`)
    for (const c of COLLS) {
      const got = await colls[c].get('fresh')
      if (got?.v !== this.sock.freshVer) this.fail(`valid page not delivered to ${c}: ${show(got)}`)
    }
    const n = await client.pendingCount()
    if (n) this.fail(`${n} writes still pending after a valid session`)
  }

  /** The conforming hub of the valid session. */
  autoAnswer(s, m) {
    const send = (x) => s.queue.push(x)
    switch (m.t) {
      case 'hello':
        return send({ t: 'welcome', v: 1, hub: 'h-valid', ping_ms: 15000, max_batch: 50, max_frame: MAX_FRAME, user: this.input.user, doc_limits: DOC_LIMITS })
      case 'sub': {
        s.freshVer = s.freshVer || this.r.int(1e6)
        const v = (this.hubVer += 10n)
        send({ t: 'page', coll: m.coll, id: m.id, changes: [['fresh', v, { v: s.freshVer }]], done: 1, total: 1, cursor: null })
        return send({ t: 'synced', coll: m.coll, id: m.id, cursor: [EPOCH, v], mode: 'snapshot', reset: false })
      }
      case 'mut':
        return send({ t: 'ack', results: m.batch.map((x) => ({ seq: x.seq, s: 'ok', ver: (this.hubVer += 1n) })) })
      case 'ping':
        return send({ t: 'pong', n: m.n })
      case 'auth':
        return send({ t: 'authed', exp: null })
    }
  }
}

/** The scripted WebSocket: the harness plays the hub. */
class FakeSocket {
  /** @param {Run} run @param {string} url */
  constructor(run, url) {
    this.run = run
    this.url = url
    /** 'new' (connecting), 'open', 'closed' */
    this.state = 'new'
    this.binaryType = 'blob'
    /** @type {{code: number, reason: string} | null} */
    this.closedBy = null
    this.hello = false
    /** @type {Map<string, number>} sub id per collection */
    this.subs = new Map()
    /** @type {Set<number>} seqs sent on this connection */
    this.sent = new Set()
    /** @type {number[][]} mut batches not answered by a `$ref: 'ack'` */
    this.batches = []
    /** @type {number} the code the hub closed with */
    this.hubClose = 0
    /** @type {object[]} frames of the valid session */
    this.queue = []
    this.freshVer = 0
    /** @type {any} */ this.onopen = null
    /** @type {any} */ this.onmessage = null
    /** @type {any} */ this.onclose = null
    /** @type {any} */ this.onerror = null
    run.sockets.push(this)
    if (run.sockets.length > 200) run.fail('more than 200 connections')
  }
  /** As a browser: throws while connecting, discards once closing. */
  send(data) {
    if (this.state === 'new') throw new DOMException('still connecting', 'InvalidStateError')
    if (this.state === 'closed') return
    if (this.binaryType !== 'arraybuffer') this.run.fail('binaryType not set to arraybuffer')
    this.run.sent(this, data)
  }
  /** As a browser: code 1000 or 3000–4999, reason at most 123 bytes of UTF-8. */
  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) throw new DOMException(`invalid code ${code}`, 'InvalidAccessError')
    if (reason !== undefined && utf8(String(reason)) > 123) throw new DOMException('reason longer than 123 bytes', 'SyntaxError')
    if (this.state === 'closed') return
    this.state = 'closed'
    this.closedBy = { code: code ?? 1005, reason: reason ?? '' }
    if (code === undefined) this.run.fail('closed without a code')
  }
}

/** An unsigned JWT-shaped token (the scripted hub checks nothing). */
function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none' })}.${b64(claims)}.sig`
}

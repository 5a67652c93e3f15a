// In-process hub speaking protocol v1 over `ws`, with hooks for fault injection.
// It dedups mutations by (client, seq) like the real hub and counts applications.
import { WebSocketServer } from 'ws'
import { encode, decode } from '@msgpack/msgpack'

const enc = (m) => encode(m, { useBigInt64: true, ignoreUndefined: true })

/** An unsigned JWT-shaped token (the fake hub checks no signature). */
export function fakeJwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.sig`
}
/** The `exp` claim of a fakeJwt token, or null. */
export function tokenExp(token) {
  try {
    const exp = JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString()).exp
    return typeof exp === 'number' ? exp : null
  } catch {
    return null
  }
}

export async function startFakeHub(opts = {}) {
  const wss = opts.server ? new WebSocketServer({ server: opts.server, path: '/sync' }) : new WebSocketServer({ port: 0 })
  if (!opts.server) await new Promise((r) => wss.once('listening', r))
  const hub = {
    url: opts.server ? null : `ws://127.0.0.1:${wss.address().port}/sync`,
    epoch: 'e1',
    pingMs: opts.pingMs ?? 1000,
    maxBatch: opts.maxBatch ?? 50,
    pageSize: opts.pageSize ?? 100,
    policies: { stale: 'reject-if-stale', merged: 'merge', ...opts.policies },
    /** coll -> id -> {ver, doc, ts} */
    data: new Map(),
    /** coll -> [{id, ver, doc}] */
    log: new Map(),
    /** "client:seq" -> result */
    dedup: new Map(),
    /** "client:seq" -> times applied (must stay 1) */
    applied: new Map(),
    /** [client, seq] in application order */
    order: [],
    /** [client, document id] in application order */
    applies: [],
    /** every decoded client frame */
    received: [],
    conns: new Set(),
    connections: 0,
    last: 0n,
    // hooks
    dropAfter: null, // apply this many mutations of the next batch, then drop the socket
    holdAcks: false,
    ignoreMuts: false, // neither apply nor ack mutations
    silent: false, // no pings
    acceptTokens: null, // array of accepted tokens
    onHello: null,
    // in-band refresh: `auth` is answered `authed {exp: <the token's exp claim>}` unless refused
    refuseAuth: false, // answer `auth` with error {code: 4010, msg: 'rejected'}
    onAuth: null, // (conn, token) => {unsub?: coll[], resync?: coll[]} what the refresh changes
    rowFilter: null, // (conn, coll, id, doc) => bool: what snapshots show this connection
    expiresIn: null, // (token) => ms | null: close 4511 token_expired that long after hello/authed
    userOf: null, // (token) => user | null: the `user` of `welcome` (absent without this hook)
    stallAfterPages: null, // a sync sends this many pages, then nothing more (a test drops the socket)
    refuse: null, // (mut) => {code, msg} | null: answer that mutation {s: 'error'} without recording it
    docLimits: opts.docLimits ?? null, // sent in welcome when set
  }

  hub.tick = () => {
    const wall = BigInt(Date.now()) << 16n
    hub.last = wall > hub.last ? wall : hub.last + 1n
    return hub.last
  }
  const coll = (c) => {
    if (!hub.data.has(c)) {
      hub.data.set(c, new Map())
      hub.log.set(c, [])
    }
    return hub.data.get(c)
  }
  hub.get = (c, id) => coll(c).get(id)
  hub.docs = (c) => [...coll(c).entries()].filter(([, r]) => r.doc).map(([id, r]) => ({ ...r.doc, id }))

  hub.commit = (c, id, doc, ts) => {
    const ver = hub.tick()
    coll(c).set(id, { ver, doc, ts: ts ?? ver })
    hub.log.get(c).push({ id, ver, doc })
    const frame = enc({ t: 'chg', coll: c, changes: [[id, ver, doc]], cursor: [hub.epoch, ver] })
    for (const conn of hub.conns) if (conn.live.has(c)) conn.ws.send(frame)
    return ver
  }
  /** An external writer (e.g. a Java app writing into Ignite). */
  hub.write = (c, id, doc) => hub.commit(c, id, doc && { ...doc, id })

  hub.sendAll = (obj) => {
    for (const conn of hub.conns) conn.ws.send(enc(obj))
  }
  hub.sendRawAll = (bytes, opts) => {
    for (const conn of hub.conns) conn.ws.send(bytes, opts)
  }
  hub.closeAll = (code = 4510, reason = '') => {
    for (const conn of hub.conns) conn.ws.close(code, reason)
  }
  hub.terminateAll = () => {
    for (const conn of hub.conns) conn.ws.terminate()
  }
  /** Tell every subscriber of `c` its stream had a gap, then resend it. */
  hub.resync = (c, mode = 'snapshot', reason = 'cq_lost') => {
    for (const conn of hub.conns) {
      const sub = conn.subs.get(c)
      if (!sub) continue
      conn.live.delete(c)
      conn.ws.send(enc({ t: 'resync', coll: c, reason, mode }))
      sendSync(conn, c, sub.id, mode === 'snapshot' ? null : sub.cursor)
    }
  }
  /** End `c`'s subscription on every connection (as after a refresh that lost read access). */
  hub.unsub = (c, code = 4403) => {
    for (const conn of hub.conns) endSub(conn, c, code)
  }
  function endSub(conn, c, code) {
    const sub = conn.subs.get(c)
    if (!sub) return
    conn.subs.delete(c)
    conn.live.delete(c)
    conn.ws.send(enc({ t: 'unsub', coll: c, id: sub.id, code, msg: 'forbidden' }))
  }
  function armExpiry(conn, token) {
    clearTimeout(conn.expTimer)
    const ms = hub.expiresIn?.(token)
    if (ms != null) conn.expTimer = setTimeout(() => conn.ws.close(4511, 'token_expired'), ms)
  }
  hub.newEpoch = (e) => {
    hub.epoch = e
  }
  hub.close = async () => {
    for (const conn of hub.conns) conn.ws.terminate()
    await new Promise((r) => wss.close(r))
  }

  function sendSync(conn, c, id, cursor) {
    const log = hub.log.get(c) || coll(c) && hub.log.get(c)
    let changes, mode, reset
    if (cursor && cursor[0] === hub.epoch) {
      mode = 'catchup'
      reset = false
      const from = BigInt(cursor[1])
      const latest = new Map()
      for (const e of log) if (e.ver > from) latest.set(e.id, e)
      changes = [...latest.values()].map((e) => [e.id, e.ver, e.doc]).sort((a, b) => (a[1] < b[1] ? -1 : 1))
    } else {
      if (cursor) conn.ws.send(enc({ t: 'resync', coll: c, reason: 'epoch', mode: 'snapshot' }))
      mode = 'snapshot'
      reset = true
      const visible = ([k, r]) => r.doc && (!hub.rowFilter || hub.rowFilter(conn, c, k, r.doc))
      changes = [...coll(c).entries()].filter(visible).map(([k, r]) => [k, r.ver, r.doc]).sort((a, b) => (a[1] < b[1] ? -1 : 1))
    }
    let done = 0
    for (let i = 0, n = 0; i < changes.length; i += hub.pageSize, n++) {
      if (n === hub.stallAfterPages) return
      const page = changes.slice(i, i + hub.pageSize)
      done += page.length
      // in version order and with no commit in flight, a page's last version is a safe resume point
      const cursor = [hub.epoch, page[page.length - 1][1]]
      conn.ws.send(enc({ t: 'page', coll: c, id, changes: page, done, total: changes.length, cursor }))
    }
    const top = log.length ? log[log.length - 1].ver : 0n
    conn.ws.send(enc({ t: 'synced', coll: c, id, cursor: [hub.epoch, top], mode, reset }))
    conn.live.add(c)
  }

  function applyMut(client, m) {
    const no = hub.refuse?.(m)
    if (no) return { seq: m.seq, s: 'error', ver: 0n, code: no.code, msg: no.msg }
    const key = `${client}:${m.seq}`
    const old = hub.dedup.get(key)
    if (old) return { ...old, s: 'dup' }
    hub.applied.set(key, (hub.applied.get(key) || 0) + 1)
    hub.order.push([client, Number(m.seq)])
    hub.applies.push([client, m.id])
    const c = m.coll
    const cur = coll(c).get(m.id)
    const policy = hub.policies[c] || 'lww'
    const doc = m.op === 'put' ? { ...m.doc, id: m.id } : null
    let r
    if (policy === 'lww' && cur && cur.ts > BigInt(m.ts)) {
      r = { seq: m.seq, s: 'conflict', ver: cur.ver, doc: cur.doc }
    } else if (policy === 'reject-if-stale' && cur && cur.ver > BigInt(m.base ?? 0)) {
      r = { seq: m.seq, s: 'rejected', ver: cur.ver, doc: cur.doc }
    } else if (policy === 'merge' && cur && cur.ver > BigInt(m.base ?? 0) && doc) {
      const merged = { ...cur.doc, ...doc, merged: true }
      r = { seq: m.seq, s: 'merged', ver: hub.commit(c, m.id, merged, BigInt(m.ts)), doc: merged }
    } else {
      r = { seq: m.seq, s: 'ok', ver: hub.commit(c, m.id, doc, BigInt(m.ts)) }
    }
    hub.dedup.set(key, r)
    return r
  }

  wss.on('connection', (ws) => {
    hub.connections++
    const conn = { ws, client: null, subs: new Map(), live: new Set(), timer: null }
    hub.conns.add(conn)
    ws.on('close', () => {
      hub.conns.delete(conn)
      clearInterval(conn.timer)
      clearTimeout(conn.expTimer)
    })
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return ws.close(4000, 'text frame')
      let m
      try {
        m = decode(data, { useBigInt64: true })
      } catch {
        return ws.close(4000, 'bad frame')
      }
      hub.received.push(m)
      if (!conn.client) {
        if (m.t !== 'hello') return ws.close(4003, 'expected hello')
        if (hub.acceptTokens && !hub.acceptTokens.includes(m.token)) return ws.close(4010, 'unauthorized')
        conn.client = m.client
        armExpiry(conn, m.token)
        hub.onHello?.(conn, m)
        const user = hub.userOf?.(m.token)
        const limits = hub.docLimits ? { doc_limits: hub.docLimits } : {}
        ws.send(enc({ t: 'welcome', v: 1, hub: 'fake', ping_ms: hub.pingMs, max_batch: hub.maxBatch, max_frame: 1 << 20, user, ...limits }))
        conn.timer = setInterval(() => {
          if (!hub.silent) ws.send(enc({ t: 'ping', n: 1 }))
        }, hub.pingMs)
        return
      }
      switch (m.t) {
        case 'sub':
          conn.subs.set(m.coll, { id: m.id, cursor: m.cursor })
          if (hub.policies[m.coll] === 'unknown') {
            ws.send(enc({ t: 'error', code: 4404, msg: 'unknown collection', ref: m.id }))
            return
          }
          return sendSync(conn, m.coll, m.id, m.cursor)
        case 'unsub':
          conn.subs.delete(m.coll)
          conn.live.delete(m.coll)
          return
        case 'auth': {
          if (hub.refuseAuth) return ws.send(enc({ t: 'error', code: 4010, msg: 'rejected', ref: null }))
          const eff = hub.onAuth?.(conn, m.token) || {}
          for (const c of eff.unsub || []) endSub(conn, c, 4403)
          const again = []
          for (const c of eff.resync || []) {
            const sub = conn.subs.get(c)
            if (!sub) continue
            conn.live.delete(c)
            ws.send(enc({ t: 'resync', coll: c, reason: 'auth', mode: 'snapshot' }))
            again.push([c, sub.id])
          }
          armExpiry(conn, m.token)
          ws.send(enc({ t: 'authed', exp: tokenExp(m.token) }))
          for (const [c, id] of again) sendSync(conn, c, id, null)
          return
        }
        case 'ping':
          return ws.send(enc({ t: 'pong', n: m.n }))
        case 'pong':
          return
        case 'mut': {
          if (hub.ignoreMuts) return
          const results = []
          for (const mut of m.batch) {
            if (hub.dropAfter !== null && results.length >= hub.dropAfter) {
              hub.dropAfter = null
              ws.terminate()
              return
            }
            results.push(applyMut(conn.client, mut))
          }
          if (hub.dropAfter !== null && results.length >= hub.dropAfter) {
            hub.dropAfter = null
            ws.terminate()
            return
          }
          if (!hub.holdAcks) ws.send(enc({ t: 'ack', results }))
          return
        }
        default:
          return ws.close(4004, 'unknown type')
      }
    })
  })
  return hub
}

// The chaos driver (driver.mjs) spoken to as the Python chaos suite does: a child process, JSON
// lines on stdin/stdout. First what needs no hub, then a session against the fake hub of
// test/helpers (offline, reload with a pending outbox, online, a conflict, an abrupt close), and a
// client living in headless Chromium (`open {browser: true}`) against the same fake hub.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { startFakeHub } from '../helpers/fake-hub.js'

const DRIVER = fileURLToPath(new URL('./driver.mjs', import.meta.url))
const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const NOWHERE = 'ws://127.0.0.1:9/sync'

function startDriver() {
  // from the repo root, as the Python suite runs it
  const child = spawn(process.execPath, ['client-js/test/chaos/driver.mjs'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] })
  /** @type {any[]} every stdout line, parsed */
  const out = []
  const waiting = new Map()
  let stderr = ''
  let next = 1
  child.stderr.on('data', (d) => (stderr += d))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) // anything but JSON on stdout fails the test
    out.push(m)
    const w = waiting.get(m.id)
    if (w) {
      waiting.delete(m.id)
      w(m)
    }
  })
  const exited = new Promise((r) => child.on('exit', (code) => r(code)))
  const d = {
    out,
    child,
    exited,
    stderr: () => stderr,
    /** send a raw line; resolves with the answer carrying `id` (if any) */
    raw(line, id = null, ms = 8000) {
      const p = new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no answer to ${line}\nstderr:\n${stderr}`)), ms)
        waiting.set(id, (m) => {
          clearTimeout(t)
          res(m)
        })
      })
      child.stdin.write(line + '\n')
      return p
    },
    /** @returns {Promise<any>} the answer, whatever `ok` */
    send(cmd, args = {}, ms = 8000) {
      const id = next++
      return d.raw(JSON.stringify({ id, cmd, ...args }), id, ms)
    },
    /** @returns {Promise<any>} the answer, which must be ok */
    async call(cmd, args = {}, ms = 8000) {
      const r = await d.send(cmd, args, ms)
      assert.equal(r.ok, true, `${cmd} ${JSON.stringify(args)} failed: ${r.error}`)
      return r
    },
    /** poll `status` until `pred(answer)` */
    async until(client, pred, what, ms = 5000) {
      const end = Date.now() + ms
      for (;;) {
        const s = await d.call('status', { client })
        if (pred(s)) return s
        if (Date.now() > end) throw new Error(`${client}: timed out waiting for ${what} (last ${JSON.stringify(s)})`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
  }
  return d
}

test('protocol without a hub: errors, outbox across close + open, concurrency, quit', async (t) => {
  const d = startDriver()
  t.after(() => d.child.kill())
  assert.deepEqual(await d.call('ping'), { id: 1, ok: true, uncaught: [], clients: [] })

  // bad requests are answered, the driver lives on
  assert.match((await d.raw('not json', null)).error, /bad JSON/)
  assert.match((await d.send('nope')).error, /unknown command "nope"/)
  assert.match((await d.send('put', { client: 'ghost', coll: 'todos', doc: { id: 'a' } })).error, /unknown client 'ghost'/)
  assert.match((await d.send('open', { client: 'c1', user: 'alice', colls: [] })).error, /'url'/)
  assert.match((await d.send('open', { client: 'c1', url: NOWHERE, user: 'alice', colls: 'todos' })).error, /'colls'/)
  assert.match((await d.send('status')).error, /'client'/)

  const opened = await d.call('open', { client: 'c1', url: NOWHERE, user: 'alice', colls: ['todos'], backoff_max_ms: 100 })
  assert.equal(opened.pending, 0)
  assert.match((await d.send('open', { client: 'c1', url: NOWHERE, user: 'alice', colls: [] })).error, /already open/)
  await d.call('put', { client: 'c1', coll: 'todos', doc: { id: 'a', title: 'A', n: 1 } })
  await d.call('put', { client: 'c1', coll: 'todos', doc: { id: 'b', title: 'B' } })
  await d.call('del', { client: 'c1', coll: 'todos', doc_id: 'b' })
  const bad = await d.send('put', { client: 'c1', coll: 'todos', doc: { title: 'no id' } })
  assert.equal(bad.ok, false)
  assert.match(bad.error, /put: doc\.id/)
  assert.match((await d.send('del', { client: 'c1', coll: 'todos' })).error, /'doc_id'/)

  // one client's commands run in order, different clients' concurrently: c2's answers come
  // while c1's flush (which cannot succeed) waits for its timeout
  const flush = d.send('flush', { client: 'c1', timeout_ms: 1500 })
  const queued = d.send('status', { client: 'c1' })
  await d.call('open', { client: 'c2', url: NOWHERE, user: 'bob', colls: ['todos'] })
  const s2 = await d.call('status', { client: 'c2' })
  assert.ok(['offline', 'connecting'].includes(s2.status))
  const ids = () => d.out.map((m) => m.id)
  const f = await flush
  assert.deepEqual(f, { id: f.id, ok: true, flushed: false, pending: 3 })
  assert.ok(ids().indexOf(f.id) > ids().indexOf(s2.id), 'c2 answered while c1 flushed')
  const st1 = await queued
  assert.ok(ids().indexOf(st1.id) > ids().indexOf(f.id), "c1's status waited for its flush")

  const expectPending = [
    { seq: 1, coll: 'todos', id: 'a', op: 'put' },
    { seq: 2, coll: 'todos', id: 'b', op: 'put' },
    { seq: 3, coll: 'todos', id: 'b', op: 'del' },
  ]
  const dump = await d.call('dump', { client: 'c1', colls: ['todos', 'other'] })
  assert.deepEqual(dump.data, { todos: { a: { id: 'a', title: 'A', n: 1 } }, other: {} })
  assert.deepEqual(dump.pending, expectPending)
  assert.ok(Array.isArray(dump.events))
  assert.equal(dump.opens, 1)

  // a reload: the outbox and the data survive close + open
  await d.call('close', { client: 'c1' })
  assert.match((await d.send('dump', { client: 'c1', colls: ['todos'] })).error, /not open/)
  assert.match((await d.send('close', { client: 'c1' })).error, /not open/)
  assert.equal((await d.call('open', { client: 'c1', url: NOWHERE, user: 'alice', colls: ['todos'] })).pending, 3)
  const again = await d.call('dump', { client: 'c1', colls: ['todos'] })
  assert.deepEqual(again.data, { todos: { a: { id: 'a', title: 'A', n: 1 } } })
  assert.deepEqual(again.pending, expectPending)
  assert.equal(again.opens, 2)

  // an uncaught error in a client's context is recorded on that client
  await d.call('_uncaught', { client: 'c2', kind: 'rejection', message: 'boom' })
  await d.call('_uncaught', { client: 'c2', kind: 'exception', message: 'bang' })
  await new Promise((r) => setTimeout(r, 50))
  const ev2 = (await d.call('dump', { client: 'c2', colls: [] })).events.filter((e) => e.type === 'uncaught')
  assert.deepEqual(
    ev2.map((e) => e.detail.message),
    ['boom', 'bang']
  )
  assert.deepEqual((await d.call('ping')).uncaught, [])

  // quit answers, closes everything and exits 0; one answer per request, nothing else
  const q = await d.call('quit')
  assert.equal(await d.exited, 0)
  assert.equal(d.out.at(-1).id, q.id)
  assert.equal(new Set(d.out.filter((m) => m.id !== null).map((m) => m.id)).size, d.out.filter((m) => m.id !== null).length)
})

test('against the fake hub: offline, reload while offline, online, conflict, abrupt close, EOF', async (t) => {
  const hub = await startFakeHub({ pingMs: 500 })
  t.after(() => hub.close())
  const d = startDriver()
  t.after(() => d.child.kill())
  hub.write('stale', 's', { v: 0 })

  const open = () => d.call('open', { client: 'a', url: hub.url, user: 'alice', colls: ['todos', 'stale'], backoff_max_ms: 100 })
  await open()
  await d.until('a', (s) => s.status === 'live', 'live')
  const first = await d.call('dump', { client: 'a', colls: ['stale'] })
  assert.deepEqual(first.data, { stale: { s: { id: 's', v: 0 } } })
  await d.call('put', { client: 'a', coll: 'todos', doc: { id: 't1', title: 'one' } })
  const f1 = await d.call('flush', { client: 'a', timeout_ms: 3000 })
  assert.deepEqual(f1, { id: f1.id, ok: true, flushed: true, pending: 0 })
  assert.deepEqual(hub.get('todos', 't1').doc, { id: 't1', title: 'one' })

  // offline: the socket is cut and no new one reaches the hub
  await d.call('offline', { client: 'a' })
  await d.until('a', (s) => s.status !== 'live' && s.network_down, 'not live')
  const conns = hub.connections
  await d.call('put', { client: 'a', coll: 'todos', doc: { id: 't2', title: 'two' } })
  await d.call('put', { client: 'a', coll: 'stale', doc: { id: 's', v: 1 } })
  const f = await d.call('flush', { client: 'a', timeout_ms: 200 })
  assert.equal(f.flushed, false)
  assert.equal(f.pending, 2)
  hub.write('stale', 's', { v: 2 }) // someone else wins: 'stale' is reject-if-stale

  // a reload while offline keeps the outbox
  await d.call('close', { client: 'a' })
  assert.equal((await open()).pending, 2)
  await new Promise((r) => setTimeout(r, 150))
  assert.equal(hub.connections, conns, 'no connection while offline')
  assert.equal(hub.get('todos', 't2'), undefined)

  // online: the outbox drains; the stale write is rejected and reported
  await d.call('online', { client: 'a' })
  assert.equal((await d.call('flush', { client: 'a', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual(hub.get('todos', 't2').doc, { id: 't2', title: 'two' })
  const dump = await d.call('dump', { client: 'a', colls: ['todos', 'stale'] })
  assert.deepEqual(dump.data, {
    todos: { t1: { id: 't1', title: 'one' }, t2: { id: 't2', title: 'two' } },
    stale: { s: { id: 's', v: 2 } },
  })
  assert.deepEqual(dump.pending, [])
  const conflicts = dump.events.filter((e) => e.type === 'conflict')
  assert.equal(conflicts.length, 1)
  const c = conflicts[0].detail
  assert.equal(c.outcome, 'rejected')
  assert.deepEqual([c.coll, c.id, c.local, c.server], ['stale', 's', { id: 's', v: 1 }, { id: 's', v: 2 }])
  assert.equal(c.ver, String(hub.get('stale', 's').ver), 'bigint version as a decimal string')
  assert.ok(dump.status_changes.live >= 2)

  // abrupt close with a write in flight: replayed on the next open, applied once
  await d.until('a', (s) => s.status === 'live', 'live again')
  hub.holdAcks = true
  await d.call('put', { client: 'a', coll: 'todos', doc: { id: 't3', title: 'three' } })
  const sent = () => hub.received.some((m) => m.t === 'mut' && m.batch.some((x) => x.id === 't3'))
  for (let i = 0; !sent(); i++) {
    assert.ok(i < 200, 'mut for t3 sent')
    await new Promise((r) => setTimeout(r, 10))
  }
  await d.call('close', { client: 'a', abrupt: true })
  hub.holdAcks = false
  assert.equal((await open()).pending, 1)
  assert.equal((await d.call('flush', { client: 'a', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual(hub.get('todos', 't3').doc, { id: 't3', title: 'three' })
  assert.ok([...hub.applied.values()].every((n) => n === 1), 'every mutation applied once')
  assert.deepEqual((await d.call('ping')).uncaught, [])
  const events = (await d.call('dump', { client: 'a', colls: [] })).events
  assert.deepEqual(events.filter((e) => e.type === 'uncaught'), [])

  // end of stdin: clients closed, exit 0
  d.child.stdin.end()
  assert.equal(await d.exited, 0)
  assert.match(d.stderr(), /stdin closed/)
})

test('a client in Chromium: live, offline, killed tab with pending writes, reopen, dump like a Node client', async (t) => {
  const hub = await startFakeHub({ pingMs: 500 })
  t.after(() => hub.close())
  const d = startDriver()
  t.after(() => d.child.kill())
  hub.write('stale', 's', { v: 0 })
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  const colls = ['todos', 'stale']
  const open = () => d.call('open', { client: 'b', url: hub.url, user: 'bob', colls, backoff_max_ms: 100, browser: true }, 30000)

  // the first browser open launches Chromium; it reaches live and flushes
  let t0 = Date.now()
  assert.equal((await open()).pending, 0)
  const firstOpenMs = Date.now() - t0
  await d.until('b', (s) => s.status === 'live', 'live')
  await d.call('put', { client: 'b', coll: 'todos', doc: { id: 't1', title: 'one', big: '12345678901234567890' } })
  const f1 = await d.call('flush', { client: 'b', timeout_ms: 3000 })
  assert.deepEqual(f1, { id: f1.id, ok: true, flushed: true, pending: 0 })
  assert.deepEqual(hub.get('todos', 't1').doc, { id: 't1', title: 'one', big: '12345678901234567890' })
  // the client's own errors come back as for a Node client; the name stays in Chromium
  assert.match((await d.send('put', { client: 'b', coll: 'todos', doc: { title: 'no id' } })).error, /put: doc\.id/)
  assert.match((await d.send('open', { client: 'b', url: hub.url, user: 'bob', colls })).error, /already open/)
  assert.equal((await d.call('append', { client: 'b', coll: 'todos', doc: { id: 'l' }, field: 'xs', value: 1 })).length, 1)
  assert.equal((await d.call('append', { client: 'b', coll: 'todos', doc: { id: 'l' }, field: 'xs', value: 2 })).length, 2)
  assert.equal((await d.call('flush', { client: 'b', timeout_ms: 3000 })).flushed, true)

  // offline: the socket is closed, no new one reaches the hub, writes stay pending
  await d.call('offline', { client: 'b' })
  await d.until('b', (s) => s.status !== 'live' && s.network_down, 'not live')
  const conns = hub.connections
  await d.call('put', { client: 'b', coll: 'todos', doc: { id: 't2', title: 'two' } })
  await d.call('del', { client: 'b', coll: 'todos', doc_id: 't1' })
  await d.call('put', { client: 'b', coll: 'stale', doc: { id: 's', v: 1 } })
  const f2 = await d.call('flush', { client: 'b', timeout_ms: 200 })
  assert.deepEqual([f2.flushed, f2.pending], [false, 3])
  hub.write('stale', 's', { v: 2 }) // someone else wins: 'stale' is reject-if-stale

  // the tab is killed with the writes pending; the reopened page (same context) still has them
  await d.call('close', { client: 'b', abrupt: true })
  assert.match((await d.send('status', { client: 'b' })).error, /not open/)
  assert.match((await d.send('open', { client: 'b', url: hub.url, user: 'bob', colls })).error, /lives in Chromium/)
  t0 = Date.now()
  assert.equal((await open()).pending, 3)
  const reopenMs = Date.now() - t0
  const p = await d.call('dump', { client: 'b', colls: ['todos'] })
  assert.deepEqual(p.pending.map((x) => [x.id, x.op]), [['t2', 'put'], ['t1', 'del'], ['s', 'put']])
  assert.deepEqual(Object.keys(p.data.todos).sort(), ['l', 't2'])
  await sleep(150)
  assert.equal(hub.connections, conns, 'no connection while offline')

  // online: sent once each; the stale write is rejected and reported by the page
  await d.call('online', { client: 'b' })
  assert.equal((await d.call('flush', { client: 'b', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual(hub.get('todos', 't2').doc, { id: 't2', title: 'two' })
  assert.equal(hub.get('todos', 't1').doc, null)

  // killed tab with a write in flight: replayed by the reopened page, applied once
  await d.until('b', (s) => s.status === 'live', 'live again')
  hub.holdAcks = true
  await d.call('put', { client: 'b', coll: 'todos', doc: { id: 't3', title: 'three' } })
  const sent = () => hub.received.some((m) => m.t === 'mut' && m.batch.some((x) => x.id === 't3'))
  for (let i = 0; !sent(); i++) {
    assert.ok(i < 300, 'mut for t3 sent')
    await sleep(10)
  }
  await d.call('close', { client: 'b', abrupt: true })
  hub.holdAcks = false
  assert.equal((await open()).pending, 1)
  assert.equal((await d.call('flush', { client: 'b', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual(hub.get('todos', 't3').doc, { id: 't3', title: 'three' })
  assert.ok(hub.applied.size >= 7)
  assert.ok([...hub.applied.values()].every((n) => n === 1), 'every mutation applied once')

  // an event the app saw just before its page was killed, whose message never reached the
  // driver, is handed over by the client's next page (the harness keeps events in localStorage)
  await d.call('_lostEvent', { client: 'b', type: 'resync', detail: { coll: 'todos', reason: 'lost-test' } })
  await d.call('close', { client: 'b', abrupt: true })
  await open()

  // a Node client on the same hub: the same data, a dump of the same shape
  await d.call('open', { client: 'n', url: hub.url, user: 'alice', colls, backoff_max_ms: 100 })
  await d.until('n', (s) => s.status === 'live', 'node client live')
  await d.until('b', (s) => s.status === 'live', 'browser client live')
  const [db, dn] = [await d.call('dump', { client: 'b', colls }), await d.call('dump', { client: 'n', colls })]
  delete db.id
  delete dn.id
  assert.deepEqual(Object.keys(db).sort(), Object.keys(dn).sort())
  for (const k of Object.keys(db)) assert.equal(typeof db[k], typeof dn[k], k)
  assert.deepEqual(db.data, dn.data)
  assert.deepEqual(db.data.todos.l, { id: 'l', xs: [1, 2] })
  assert.deepEqual([db.pending, db.status, db.opens], [[], 'live', 4])
  assert.equal(db.events.filter((e) => e.type === 'resync' && e.detail?.reason === 'lost-test').length, 1)
  assert.ok(db.status_changes.live >= 3 && db.progress_events >= 0)
  const conflicts = db.events.filter((e) => e.type === 'conflict')
  assert.equal(conflicts.length, 1)
  const c = conflicts[0].detail
  assert.deepEqual([c.coll, c.id, c.outcome, c.local, c.server], ['stale', 's', 'rejected', { id: 's', v: 1 }, { id: 's', v: 2 }])
  assert.equal(c.ver, String(hub.get('stale', 's').ver), 'bigint version as a decimal string')
  assert.deepEqual(db.events.filter((e) => e.type === 'uncaught'), [])

  // a second page whose connects are refused: Chromium's network console errors are not uncaught
  const srv = net.createServer()
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const port = srv.address().port
  await new Promise((r) => srv.close(r))
  await d.call('open', { client: 'x', url: `ws://127.0.0.1:${port}/sync`, user: 'x', colls, browser: true }, 15000)
  await sleep(300)
  assert.deepEqual((await d.call('dump', { client: 'x', colls: [] })).events, [])
  // an error raised in the page is an uncaught event of that client
  await d.call('_uncaught', { client: 'x', kind: 'exception', message: 'bang' })
  await sleep(100)
  assert.deepEqual((await d.call('dump', { client: 'x', colls: [] })).events, [{ type: 'uncaught', detail: { message: 'bang', kind: 'pageerror' } }])
  // a crashed page: its commands fail, the driver lives on, close + open brings the client back
  await d.call('put', { client: 'x', coll: 'todos', doc: { id: 'x1' } })
  await d.call('_crash', { client: 'x' })
  assert.match((await d.send('status', { client: 'x' })).error, /browser client 'x': page crashed/)
  assert.deepEqual((await d.call('ping')).clients.sort(), ['b', 'n', 'x'])
  await d.call('close', { client: 'x' })
  assert.equal((await d.call('open', { client: 'x', url: `ws://127.0.0.1:${port}/sync`, user: 'x', colls, browser: true })).pending, 1)
  assert.deepEqual((await d.call('dump', { client: 'x', colls: [] })).events.map((e) => e.detail.kind), ['pageerror', 'crash'])

  // a graceful close, then quit closes the rest and Chromium
  await d.call('close', { client: 'b' })
  await d.call('quit', {}, 15000)
  assert.equal(await d.exited, 0)
  t.diagnostic(`browser open as seen by the test: first ${firstOpenMs} ms (launches Chromium), reopen ${reopenMs} ms`)
  for (const l of d.stderr().split('\n')) if (/chromium/.test(l)) t.diagnostic(l)
})

test('two tabs of a client in Chromium: one connection, writes from both, token refresh, leader handoff', async (t) => {
  const hub = await startFakeHub({ pingMs: 500 })
  t.after(() => hub.close())
  const d = startDriver()
  t.after(() => d.child.kill())
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  const colls = ['todos']
  const base = { url: hub.url, user: 'bob', colls, backoff_max_ms: 100, browser: true }
  const openP = () => d.call('open', { ...base, client: 'p', tabs: true, token: 'bob' }, 30000)
  const openQ = () => d.call('open', { ...base, client: 'q', tab_of: 'p', token: 'bob' }, 30000)
  const hellos = () => hub.received.filter((m) => m.t === 'hello')
  const until = async (what, pred, ms = 8000) => {
    for (const end = Date.now() + ms; !pred(); await sleep(20)) assert.ok(Date.now() < end, `timed out waiting for ${what}`)
  }

  await openP()
  await d.until('p', (s) => s.status === 'live', 'p live')
  await openQ()
  // the follower hears the leader's status over BroadcastChannel and never connects itself
  await d.until('q', (s) => s.status === 'live', 'q live (the leader tab is)')
  await sleep(200)
  assert.equal(hellos().length, 1, 'one connection for the two tabs')

  // writes from both tabs go through the one connection; each tab shows both
  await d.call('put', { client: 'q', coll: 'todos', doc: { id: 'q1' } })
  await d.call('put', { client: 'p', coll: 'todos', doc: { id: 'p1' } })
  assert.equal((await d.call('flush', { client: 'q', timeout_ms: 4000 })).flushed, true)
  assert.equal((await d.call('flush', { client: 'p', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual([hub.get('todos', 'q1').doc, hub.get('todos', 'p1').doc], [{ id: 'q1' }, { id: 'p1' }])
  for (const c of ['p', 'q']) assert.deepEqual(Object.keys((await d.call('dump', { client: c, colls })).data.todos).sort(), ['p1', 'q1'])

  // a token refresh asked in the follower: the leader sends the new token, shared by the tabs
  assert.equal((await d.call('token', { client: 'q', token: 'bob@x' })).refreshed, false, 'a follower does not refresh itself')
  await until('auth with the new token', () => hub.received.some((m) => m.t === 'auth' && m.token === 'bob@x'))

  // the leader tab is killed with the follower's write in flight: the follower takes over the
  // connection (with the shared token) and replays it, applied once
  hub.holdAcks = true
  await d.call('put', { client: 'q', coll: 'todos', doc: { id: 'q2' } })
  await until('mut for q2 sent', () => hub.received.some((m) => m.t === 'mut' && m.batch.some((x) => x.id === 'q2')))
  await d.call('close', { client: 'p', abrupt: true })
  hub.holdAcks = false
  await until('a second hello', () => hellos().length === 2)
  assert.equal(hellos()[1].token, 'bob@x')
  assert.equal((await d.call('flush', { client: 'q', timeout_ms: 4000 })).flushed, true)
  assert.deepEqual(hub.get('todos', 'q2').doc, { id: 'q2' })

  // the first tab comes back as a follower; the leader closes gracefully: it takes over again
  await openP()
  await d.call('put', { client: 'p', coll: 'todos', doc: { id: 'p2' } })
  assert.equal((await d.call('flush', { client: 'p', timeout_ms: 4000 })).flushed, true)
  assert.equal(hellos().length, 2, 'the reopened tab follows')
  await d.call('close', { client: 'q' })
  await d.call('put', { client: 'p', coll: 'todos', doc: { id: 'p3' } })
  assert.equal((await d.call('flush', { client: 'p', timeout_ms: 4000 })).flushed, true)
  assert.equal(hellos().length, 3)
  const dump = await d.call('dump', { client: 'p', colls })
  assert.deepEqual(Object.keys(dump.data.todos).sort(), ['p1', 'p2', 'p3', 'q1', 'q2'])
  assert.deepEqual(dump.pending, [])
  assert.ok([...hub.applied.values()].every((n) => n === 1), 'every mutation applied once')
  assert.equal(hub.applied.size, 5)
  assert.deepEqual(dump.events.filter((e) => e.type === 'uncaught'), [])
  assert.deepEqual((await d.call('ping')).uncaught, [])
  await d.call('quit', {}, 15000)
  assert.equal(await d.exited, 0)
})

// Per-write outcome (write handles and the hub's verdict) and the one `SyncError` shape, against
// the fake hub.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory, fakeLocks } from '../helpers/util.js'
import { SyncClient } from '../../src/index.js'

const muts = (hub) => hub.received.filter((m) => m.t === 'mut').flatMap((m) => m.batch)
const SHAPE = ['kind', 'code', 'message', 'retry', 'fatal']

/** Every error event has the same shape: kind, code, message, retry, fatal (and what it names). */
function assertShape(e) {
  for (const k of SHAPE) assert.ok(Object.hasOwn(e, k), `error event without ${k}: ${JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`)
  assert.equal(typeof e.kind, 'string')
  assert.equal(typeof e.code, 'number')
  assert.equal(typeof e.message, 'string')
  assert.equal(typeof e.retry, 'boolean')
  assert.equal(typeof e.fatal, 'boolean')
}

test('put and delete resolve with a handle once stored locally; its result is the verdict (applied)', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = new SyncClient({
    url: hub.url,
    dbName: 'db',
    token: 'dev',
    env: { WebSocket, indexedDB: new IDBFactory(), locks: null, BroadcastChannel: null, events: null, document: null },
  })
  t.after(() => client.close())
  const todos = client.collection('todos')
  hub.holdAcks = true
  const w = await todos.put({ id: 'a', title: 'Milk' })
  assert.deepEqual(Object.keys(w).sort(), ['coll', 'id', 'result', 'seq'])
  assert.equal(w.coll, 'todos')
  assert.equal(w.id, 'a')
  assert.ok(Number.isInteger(w.seq) && w.seq > 0)
  // before the hub answers: stored, pending under the same seq, verdict not in yet
  assert.deepEqual(await todos.get('a'), { id: 'a', title: 'Milk' })
  assert.deepEqual((await client.pendingWrites()).map((p) => [p.seq, p.coll, p.id, p.op]), [[w.seq, 'todos', 'a', 'put']])
  let settled = false
  w.result.then(() => (settled = true))
  await waitFor(() => muts(hub).length === 1, { what: 'mut sent' })
  assert.equal(muts(hub)[0].seq, w.seq)
  assert.equal(settled, false)
  hub.holdAcks = false
  hub.terminateAll() // the replay is answered (dup of an applied write: still `applied`)
  const r = await w.result
  assert.equal(r.status, 'applied')
  assert.equal(r.seq, w.seq)
  assert.equal(typeof r.ver, 'bigint')
  const d = await todos.delete('a')
  assert.equal(d.seq, w.seq + 1)
  assert.deepEqual(await d.result, { seq: d.seq, coll: 'todos', id: 'a', status: 'applied', ver: hub.get('todos', 'a').ver })
})

test('conflict, rejected and merged: the handle gets the status and the server doc; the conflict event its seq', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 'c', { v: 0 })
  hub.write('stale', 's', { v: 0 })
  hub.write('merged', 'm', { a: 0 })
  // a clock an hour behind: its lww write loses to the hub's
  const client = makeClient(hub.url, { now: () => Date.now() - 3600e3 })
  t.after(() => client.close())
  const conflicts = record(client, 'conflict')
  const [todos, stale, merged] = ['todos', 'stale', 'merged'].map((c) => client.collection(c))
  await waitFor(() => client.status === 'live')
  hub.ignoreMuts = true
  const wc = await todos.put({ id: 'c', v: 1 })
  const ws = await stale.put({ id: 's', v: 1 })
  const wm = await merged.put({ id: 'm', b: 1 })
  await waitFor(() => muts(hub).length >= 3, { what: 'muts sent' })
  hub.write('todos', 'c', { v: 2 })
  hub.write('stale', 's', { v: 2 })
  hub.write('merged', 'm', { a: 2 })
  hub.ignoreMuts = false
  hub.terminateAll()
  const [rc, rs, rm] = await Promise.all([wc.result, ws.result, wm.result])
  assert.deepEqual([rc.status, rc.seq, rc.serverDoc], ['conflict', wc.seq, { id: 'c', v: 2 }])
  assert.deepEqual([rs.status, rs.seq, rs.serverDoc], ['rejected', ws.seq, { id: 's', v: 2 }])
  assert.deepEqual([rm.status, rm.seq, rm.serverDoc], ['merged', wm.seq, { id: 'm', a: 2, b: 1, merged: true }])
  assert.equal(rc.code, undefined)
  await waitFor(() => conflicts.length === 3)
  assert.deepEqual(
    conflicts.map((c) => [c.seq, c.coll, c.id, c.outcome]).sort((a, b) => a[0] - b[0]),
    [[wc.seq, 'todos', 'c', 'conflict'], [ws.seq, 'stale', 's', 'rejected'], [wm.seq, 'merged', 'm', 'merged']]
  )
  assert.deepEqual(await todos.get('c'), { id: 'c', v: 2 })
})

test('a per-mutation error (4413): the handle resolves `error` with code; the error event is a SyncError with the seq', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 'big', { v: 'server' })
  hub.refuse = (m) => (m.id === 'big' ? { code: 4413, msg: 'document over the limits' } : null)
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  const [wb, wo] = await Promise.all([todos.put({ id: 'big', v: 'mine' }), todos.put({ id: 'ok', v: 1 })])
  const [rb, ro] = await Promise.all([wb.result, wo.result])
  assert.deepEqual(rb, { seq: wb.seq, coll: 'todos', id: 'big', status: 'error', ver: 0n, code: 4413, message: 'document over the limits' })
  assert.equal(ro.status, 'applied')
  assert.equal(errors.length, 1)
  assertShape(errors[0])
  assert.deepEqual(errors[0], {
    kind: 'mutation', code: 4413, message: 'document over the limits', retry: false, fatal: false,
    seq: wb.seq, coll: 'todos', id: 'big', local: { id: 'big', v: 'mine' }, server: { id: 'big', v: 'server' },
  })
  assert.deepEqual(await todos.get('big'), { id: 'big', v: 'server' })
})

test('retry later (4504): no verdict yet, an error event with retry and the seq; the next connection settles it', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.refuse = () => ({ code: 4504, msg: 'collection not served here yet' })
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  const w = await todos.put({ id: 'n', v: 1 })
  await waitFor(() => errors.length === 1, { what: 'retry error' })
  assertShape(errors[0])
  assert.deepEqual([errors[0].kind, errors[0].code, errors[0].retry, errors[0].seq, errors[0].id], ['mutation', 4504, true, w.seq, 'n'])
  let settled = false
  w.result.then(() => (settled = true))
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(settled, false)
  hub.refuse = null
  hub.terminateAll()
  assert.equal((await w.result).status, 'applied')
})

test('after a reload: the old handle rejects; the replay answers dup; conflict events carry the old seq', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('stale', 's', { v: 0 })
  const idb = new IDBFactory()
  const first = makeClient(hub.url, { indexedDB: idb })
  const stale = first.collection('stale')
  const todos = first.collection('todos')
  await waitFor(() => first.status === 'live')
  hub.ignoreMuts = true
  const wa = await todos.put({ id: 'a', v: 1 })
  const ws = await stale.put({ id: 's', v: 'mine' })
  await waitFor(() => muts(hub).length === 2, { what: 'both sent' })
  hub.write('stale', 's', { v: 1 }) // the write's base is now stale: the hub will reject it
  hub.ignoreMuts = false
  hub.holdAcks = true // applied on the hub at the replay, the acks never arrive
  hub.terminateAll()
  await waitFor(() => hub.dedup.size === 2, { what: 'both applied' })
  assert.deepEqual([...hub.dedup.values()].map((r) => r.s), ['ok', 'rejected'])
  await first.close() // the page goes away before the verdicts
  await assert.rejects(wa.result, /client closed/)
  await assert.rejects(ws.result, /client closed/)

  hub.holdAcks = false
  const second = makeClient(hub.url, { indexedDB: idb })
  t.after(() => second.close())
  const conflicts = record(second, 'conflict')
  const errors = record(second, 'error')
  assert.deepEqual((await second.pendingWrites()).map((p) => p.seq), [wa.seq, ws.seq])
  second.collection('stale')
  second.collection('todos')
  await second.flush()
  // each applied once; the replays were answered `dup`
  assert.deepEqual([...hub.applied.values()], [1, 1])
  // the rejected write's outcome comes back as a `dup` conflict naming its seq; the applied one is silent
  assert.deepEqual(conflicts.map((c) => [c.seq, c.coll, c.id, c.outcome, c.server]), [[ws.seq, 'stale', 's', 'dup', { id: 's', v: 1 }]])
  assert.deepEqual(errors, [])
  assert.deepEqual(await second.pendingWrites(), [])
})

test('a follower tab\'s handle gets the verdict the leader tab received', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'tabs-' + Math.random() }
  const leader = makeClient(hub.url, shared)
  t.after(() => leader.close())
  await waitFor(() => leader.leader && leader.status === 'live')
  const follower = makeClient(hub.url, shared)
  t.after(() => follower.close())
  await follower.ready
  assert.equal(follower.leader, false)
  hub.write('stale', 's', { v: 0 })
  leader.collection('stale')
  await waitFor(async () => (await follower.collection('stale').get('s'))?.v === 0, { what: 'follower sees s' })
  hub.write('stale', 's', { v: 1 })
  await waitFor(async () => (await follower.collection('stale').get('s'))?.v === 1, { what: 'follower sees v1' })
  const ok = await follower.collection('todos').put({ id: 'f', v: 1 })
  assert.equal((await ok.result).status, 'applied')
  // a base the hub moved past meanwhile: rejected
  hub.ignoreMuts = true
  const w = await follower.collection('stale').put({ id: 's', v: 'mine' })
  await waitFor(() => muts(hub).some((m) => m.seq === w.seq), { what: 'sent by the leader' })
  hub.write('stale', 's', { v: 2 })
  hub.ignoreMuts = false
  hub.terminateAll()
  const r = await w.result
  assert.deepEqual([r.status, r.seq, r.serverDoc], ['rejected', w.seq, { id: 's', v: 2 }])
})

test('every error event has the SyncError shape (protocol, sub, store, closed)', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  client.collection('todos')
  await waitFor(() => client.status === 'live')
  hub.sendRawAll(Buffer.from([0xc1])) // undecodable: protocol error, reconnect
  await waitFor(() => errors.some((e) => e.kind === 'protocol'), { what: 'protocol error' })
  await waitFor(() => client.status === 'live')
  hub.closeAll(4003, 'forbidden') // 4000-4499: stop
  await waitFor(() => errors.some((e) => e.kind === 'closed'), { what: 'closed' })
  for (const e of errors) assertShape(e)
  const p = errors.find((e) => e.kind === 'protocol')
  assert.equal(p.retry, true)
  assert.ok(p.cause instanceof Error)
  const c = errors.find((e) => e.kind === 'closed')
  assert.deepEqual([c.code, c.message, c.retry, c.fatal], [4003, 'forbidden', false, true])
})

// Conflicts, quota errors, versionchange and hostile frames against the fake hub.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode } from '@msgpack/msgpack'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory, sleep } from '../helpers/util.js'

test('lww conflict: older clock loses, local store takes the server doc', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const idb = new IDBFactory()
  // Write offline with a clock one hour behind, then let a newer server write land first.
  const skew = makeClient('ws://127.0.0.1:9/sync', { indexedDB: idb, now: () => Date.now() - 3600e3 })
  await skew.collection('todos').put({ id: 'x', title: 'old clock' })
  await skew.close()
  hub.write('todos', 'x', { title: 'server' })
  const client = makeClient(hub.url, { indexedDB: idb, now: () => Date.now() - 3600e3 })
  t.after(() => client.close())
  const conflicts = record(client, 'conflict')
  const todos = client.collection('todos')
  await client.flush()
  assert.equal(conflicts.length, 1)
  assert.equal(conflicts[0].outcome, 'conflict')
  assert.deepEqual(conflicts[0].local, { id: 'x', title: 'old clock' })
  assert.deepEqual(conflicts[0].server, { id: 'x', title: 'server' })
  assert.deepEqual(await todos.get('x'), { id: 'x', title: 'server' })
})

test('reject-if-stale and merge outcomes surface as conflict events', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('stale', 's', { v: 0 })
  hub.write('merged', 'm', { a: 0 })
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const conflicts = record(client, 'conflict')
  const stale = client.collection('stale')
  const merged = client.collection('merged')
  await waitFor(() => client.status === 'live')
  hub.ignoreMuts = true
  await stale.put({ id: 's', v: 1 })
  await merged.put({ id: 'm', b: 1 })
  await waitFor(() => hub.received.filter((m) => m.t === 'mut').length >= 1)
  hub.write('stale', 's', { v: 2 }) // someone else wins the race
  hub.write('merged', 'm', { a: 2 })
  hub.ignoreMuts = false
  hub.terminateAll()
  await client.flush()
  const byOutcome = Object.fromEntries(conflicts.map((c) => [c.outcome, c]))
  assert.deepEqual(byOutcome.rejected.server, { id: 's', v: 2 })
  assert.deepEqual(await stale.get('s'), { id: 's', v: 2 })
  assert.deepEqual(byOutcome.merged.server, { id: 'm', a: 2, b: 1, merged: true })
  assert.deepEqual(await merged.get('m'), { id: 'm', a: 2, b: 1, merged: true })
})

test('a second write on top of a pending one gets the first one\'s version as base', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient('ws://127.0.0.1:9/sync')
  const stale = client.collection('stale')
  await stale.put({ id: 'q', v: 1 })
  await stale.put({ id: 'q', v: 2 })
  await stale.put({ id: 'q', v: 3 })
  await client.close()
  const c2 = makeClient(hub.url, { indexedDB: client.o.indexedDB })
  t.after(() => c2.close())
  const conflicts = record(c2, 'conflict')
  c2.collection('stale')
  await c2.flush()
  assert.equal(conflicts.length, 0)
  assert.deepEqual(hub.get('stale', 'q').doc, { id: 'q', v: 3 })
})

test('mutation error result: reported, view falls back to the server doc', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 'e', { v: 'server' })
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  hub.ignoreMuts = true
  await todos.put({ id: 'e', v: 'mine' })
  await waitFor(() => hub.received.some((m) => m.t === 'mut'))
  const seq = hub.received.find((m) => m.t === 'mut').batch[0].seq
  hub.sendAll({ t: 'ack', results: [{ seq, s: 'error', ver: 0, code: 4403, msg: 'not writable' }] })
  await client.flush()
  assert.deepEqual(
    [errors[0].kind, errors[0].code, errors[0].message, errors[0].retry, errors[0].fatal, errors[0].coll, errors[0].id, errors[0].seq],
    ['mutation', 4403, 'not writable', false, false, 'todos', 'e', seq]
  )
  assert.deepEqual(await todos.get('e'), { id: 'e', v: 'server' })
})

test('QuotaExceededError: put rejects, error event, outbox and store intact', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await todos.put({ id: 'ok1', v: 1 })
  const proto = IDBObjectStore.prototype
  const orig = proto.put
  proto.put = function (...args) {
    if (this.name === 'docs') throw new DOMException('quota exceeded', 'QuotaExceededError')
    return orig.apply(this, args)
  }
  try {
    await assert.rejects(todos.put({ id: 'big', v: 2 }), { name: 'QuotaExceededError' })
  } finally {
    proto.put = orig
  }
  assert.equal(errors.at(-1).kind, 'quota')
  assert.equal(await todos.get('big'), undefined)
  await client.flush()
  assert.deepEqual(hub.docs('todos').map((d) => d.id), ['ok1'])
  // quota while applying remote changes: reported, cursor not advanced, retried after reconnect
  proto.put = function (...args) {
    if (this.name === 'docs') throw new DOMException('quota exceeded', 'QuotaExceededError')
    return orig.apply(this, args)
  }
  try {
    hub.write('todos', 'r1', { v: 1 })
    await waitFor(() => errors.filter((e) => e.kind === 'quota').length >= 2)
  } finally {
    proto.put = orig
  }
  await waitFor(async () => (await todos.get('r1'))?.v === 1, { what: 'remote change after quota recovered' })
})

test('versionchange: reported as an error, client stops, outbox kept', async (t) => {
  const idb = new IDBFactory()
  const client = makeClient('ws://127.0.0.1:9/sync', { indexedDB: idb })
  const errors = record(client, 'error')
  await client.collection('todos').put({ id: 'v', x: 1 })
  const r = idb.open('db', 2)
  await new Promise((res, rej) => {
    r.onsuccess = res
    r.onerror = rej
  })
  assert.equal(errors.at(-1).kind, 'versionchange')
  await assert.rejects(client.collection('todos').put({ id: 'w' }))
  const db = r.result
  const count = await new Promise((res) => {
    const q = db.transaction('outbox').objectStore('outbox').count()
    q.onsuccess = () => res(q.result)
  })
  assert.equal(count, 1)
  db.close()
  await client.close()
})

for (const [name, frame, binary] of [
  ['malformed msgpack', Buffer.from([0xc1, 0xff, 0x00]), true],
  ['unknown type', encode({ t: 'surprise', x: 1 }), true],
  ['not a map', encode([1, 2, 3]), true],
  ['bad field types', encode({ t: 'chg', coll: 'todos', changes: [['z', 'nine', {}]], cursor: ['e1', 1] }), true],
  ['text frame', 'hello', false],
  ['huge declared string', Buffer.from([0x81, 0xa1, 0x74, 0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]), true],
  ['huge declared array', Buffer.from([0x81, 0xa1, 0x74, 0xdd, 0x7f, 0xff, 0xff, 0xff]), true],
  ['huge declared map', Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]), true],
  ['oversized frame', Buffer.alloc(300 * 1024, 0x90), true],
]) {
  test(`hostile frame (${name}) closes the socket, is reported, store untouched`, async (t) => {
    const hub = await startFakeHub()
    t.after(() => hub.close())
    hub.write('todos', 'keep', { v: 1 })
    const client = makeClient(hub.url, { limits: { maxFrame: 256 * 1024 } })
    t.after(() => client.close())
    const errors = record(client, 'error')
    const todos = client.collection('todos')
    await waitFor(() => client.status === 'live')
    const before = await todos.getAll()
    hub.sendRawAll(frame, { binary })
    await waitFor(() => errors.length === 1, { what: 'error event' })
    assert.equal(errors[0].kind, 'protocol')
    assert.ok([4000, 4001, 4004, 4009].includes(errors[0].code), String(errors[0].code))
    await waitFor(() => hub.connections === 2 && client.status === 'live', { what: 'reconnect' })
    assert.deepEqual(await todos.getAll(), before)
  })
}

test('hostile limits hold against a frame claiming a 2^31 item array', async () => {
  const { Decoder } = await import('@msgpack/msgpack')
  const { DEFAULT_LIMITS } = await import('../../src/transport-ws.js')
  const d = new Decoder({ useBigInt64: true, ...DEFAULT_LIMITS })
  const before = process.memoryUsage().rss
  assert.throws(() => d.decode(Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff])))
  assert.ok(process.memoryUsage().rss - before < 100 << 20)
})

test('error frame for an unknown collection: reported, other collections go live', async (t) => {
  const hub = await startFakeHub({ policies: { nope: 'unknown' } })
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  client.collection('todos')
  client.collection('nope')
  await waitFor(() => client.status === 'live')
  assert.deepEqual(errors.map((e) => [e.kind, e.coll, e.code]), [['sub', 'nope', 4404]])
})

test('token function is called on every connect', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.acceptTokens = ['tok-1', 'tok-2']
  let n = 0
  const client = makeClient(hub.url, { token: async () => `tok-${++n}` })
  t.after(() => client.close())
  client.collection('todos')
  await waitFor(() => client.status === 'live')
  hub.terminateAll()
  await waitFor(() => hub.connections === 2 && client.status === 'live')
  assert.deepEqual(hub.received.filter((m) => m.t === 'hello').map((m) => m.token), ['tok-1', 'tok-2'])
  await sleep(10)
})

test('a ping interval beyond what a timer holds does not make the liveness timer fire at once', async (t) => {
  // 2 x 2^30 ms overflows a browser timer (a 32-bit delay: it fires at once), then every
  // reconnect went live and timed out again
  const hub = await startFakeHub({ pingMs: 2 ** 30 })
  t.after(() => hub.close())
  const delays = []
  const timers = { setTimeout: (f, ms) => (delays.push(ms), setTimeout(f, ms)), clearTimeout: (id) => clearTimeout(id) }
  const client = makeClient(hub.url, { timers })
  t.after(() => client.close())
  client.collection('todos')
  await waitFor(() => client.status === 'live')
  await sleep(20)
  assert.equal(client.status, 'live')
  assert.ok(delays.every((ms) => ms <= 2 ** 31 - 1), String(delays))
  assert.equal(hub.connections, 1)
})

// Against the real hub: live sync, reconnect, exactly-once replay, RESYNC.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openStore } from '../../src/store.js'
import { client, RUN, NOWHERE, trackingWebSocket, waitFor, record, IDBFactory, sleep } from './helpers.js'

test('a write from one client reaches another live', { timeout: 30000 }, async (t) => {
  const a = client()
  const b = client()
  t.after(() => Promise.all([a.close(), b.close()]))
  const seen = []
  b.collection('todos').subscribe((ch) => seen.push(...ch))
  a.collection('todos')
  await waitFor(() => a.status === 'live' && b.status === 'live', { timeout: 15000, what: 'both live' })
  await a.collection('todos').put({ id: `${RUN}-live`, title: 'hello', done: false })
  await a.flush()
  await waitFor(() => seen.some((c) => c.id === `${RUN}-live` && c.origin === 'remote'), { timeout: 10000, what: 'change at b' })
  assert.deepEqual(await b.collection('todos').get(`${RUN}-live`), { id: `${RUN}-live`, title: 'hello', done: false })
})

test('reconnect after the socket dies; changes made meanwhile arrive through the cursor', { timeout: 30000 }, async (t) => {
  const tw = trackingWebSocket()
  const a = client({ WebSocket: tw.WebSocket })
  const b = client()
  t.after(() => Promise.all([a.close(), b.close()]))
  a.collection('todos')
  b.collection('todos')
  await waitFor(() => a.status === 'live' && b.status === 'live', { timeout: 15000 })
  const statuses = record(a, 'status')
  tw.sockets.at(-1).terminate()
  // the offline spell lasts one backoff delay (< backoffMin on the first retry): watch the events
  await waitFor(() => statuses.some((s) => s.newStatus === 'offline'), { what: 'offline' })
  await b.collection('todos').put({ id: `${RUN}-while-away`, v: 1 })
  await b.flush()
  await waitFor(() => a.status === 'live', { timeout: 15000, what: 'reconnected' })
  await waitFor(async () => (await a.collection('todos').get(`${RUN}-while-away`))?.v === 1, { timeout: 10000 })
  assert.ok(statuses.some((s) => s.newStatus === 'connecting'))
  assert.ok(tw.sockets.length >= 2)
})

test('exactly-once replay after a mid-batch socket drop', { timeout: 60000 }, async (t) => {
  const N = 200
  const idb = new IDBFactory()
  const dbName = 'real-replay-' + RUN
  const offline = client({ url: NOWHERE, indexedDB: idb, dbName })
  const todos = offline.collection('todos')
  const writes = []
  for (let i = 0; i < N; i++) writes.push(todos.put({ id: `${RUN}-n${i}`, i }))
  await Promise.all(writes)
  for (let i = 1; i <= 20; i++) await todos.put({ id: `${RUN}-counter`, n: i })
  await offline.close()

  const tw = trackingWebSocket()
  const acks = []
  let drops = 0
  tw.hooks.afterMut = (ws) => {
    drops++
    ws.on('message', (d) => acks.push(d))
    setTimeout(() => ws.terminate(), 5) // after the hub got the batch, before (most) acks
  }
  const a = client({ WebSocket: tw.WebSocket, indexedDB: idb, dbName })
  t.after(() => a.close())
  a.collection('todos')
  await a.flush()
  assert.equal(drops, 1)
  assert.ok(tw.sockets.length >= 2, 'reconnected after the drop')
  assert.equal(await a.pendingCount(), 0)

  const b = client()
  t.after(() => b.close())
  const bt = b.collection('todos')
  await waitFor(() => b.status === 'live', { timeout: 20000 })
  const docs = (await bt.getAll()).filter((d) => d.id.startsWith(`${RUN}-n`))
  assert.equal(docs.length, N, 'every write arrived')
  assert.deepEqual(new Set(docs.map((d) => d.i)).size, N)
  assert.deepEqual(await bt.get(`${RUN}-counter`), { id: `${RUN}-counter`, n: 20 }, 'last write wins, no replayed older put after it')
})

test('RESYNC: a cursor of an unknown epoch leads to a snapshot with reset', { timeout: 30000 }, async (t) => {
  const idb = new IDBFactory()
  const dbName = 'real-resync-' + RUN
  const a = client({ indexedDB: idb, dbName })
  await a.collection('todos').put({ id: `${RUN}-kept`, v: 1 })
  await a.flush()
  await waitFor(() => a.status === 'live', { timeout: 15000 })
  await a.close()

  // Forge a stale cursor and a document the hub never had.
  const store = await openStore(idb, dbName, () => {})
  await store.run(['docs', 'meta'], 'readwrite', async (tx) => {
    tx.objectStore('meta').put(['no-such-epoch', 1n], 'cur:todos')
    tx.objectStore('docs').put({ c: 'todos', id: `${RUN}-ghost`, doc: { id: `${RUN}-ghost` }, ver: 1n, pend: 0, srv: null })
  })
  store.close()

  const b = client({ indexedDB: idb, dbName })
  t.after(() => b.close())
  const resyncs = record(b, 'resync')
  const progress = record(b, 'progress')
  const todos = b.collection('todos')
  await waitFor(() => b.status === 'live', { timeout: 20000 })
  assert.ok(resyncs.length >= 1, 'resync announced')
  assert.equal(resyncs[0].mode, 'snapshot')
  assert.ok(progress.length >= 1)
  assert.equal(await todos.get(`${RUN}-ghost`), undefined, 'document unknown to the hub removed')
  assert.deepEqual(await todos.get(`${RUN}-kept`), { id: `${RUN}-kept`, v: 1 })
  await sleep(10)
})

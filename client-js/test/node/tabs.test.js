// Several "tabs" (clients sharing one IndexedDB, a lock manager and BroadcastChannel) in one process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, IDBFactory, fakeLocks, sleep } from '../helpers/util.js'

test('one tab holds the socket, others write through the shared outbox and see every change', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'tabs-' + Math.random() }
  const a = makeClient(hub.url, shared)
  const b = makeClient(hub.url, shared)
  t.after(() => a.close())
  t.after(() => b.close())
  const seenA = []
  const seenB = []
  a.collection('todos').subscribe((ch) => seenA.push(...ch))
  b.collection('todos').subscribe((ch) => seenB.push(...ch))
  await waitFor(() => a.status === 'live' && b.status === 'live', { what: 'both live' })
  assert.equal(a.leader, true)
  assert.equal(b.leader, false)
  assert.equal(hub.connections, 1)

  await b.collection('todos').put({ id: 'fromB', v: 1 })
  await a.collection('todos').put({ id: 'fromA', v: 1 })
  await b.flush()
  assert.deepEqual(hub.docs('todos').map((d) => d.id).sort(), ['fromA', 'fromB'])
  await waitFor(() => seenA.some((c) => c.id === 'fromB' && c.origin === 'remote'), { what: 'A sees B' })
  await waitFor(() => seenB.some((c) => c.id === 'fromA' && c.origin === 'remote'), { what: 'B sees A' })
  assert.ok(seenB.some((c) => c.id === 'fromB' && c.origin === 'local'))

  hub.write('todos', 'srv', { v: 1 })
  await waitFor(() => seenB.some((c) => c.id === 'srv' && c.origin === 'remote'), { what: 'B sees server change' })
})

test('closing the socket-holding tab hands over without losing writes', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'tabs-' + Math.random() }
  const a = makeClient(hub.url, shared)
  const b = makeClient(hub.url, shared)
  t.after(() => b.close())
  a.collection('todos')
  b.collection('todos')
  await waitFor(() => a.status === 'live' && b.status === 'live')
  hub.ignoreMuts = true // writes stay unacknowledged while A holds the socket
  for (let i = 0; i < 10; i++) await b.collection('todos').put({ id: 'b' + i })
  for (let i = 0; i < 10; i++) await a.collection('todos').put({ id: 'a' + i })
  await waitFor(() => hub.received.filter((m) => m.t === 'mut').length > 0)
  await a.close()
  hub.ignoreMuts = false
  await waitFor(() => b.leader, { what: 'B takes over' })
  await b.flush()
  assert.equal(hub.docs('todos').length, 20)
  assert.ok([...hub.applied.values()].every((n) => n === 1))
  await sleep(20)
})

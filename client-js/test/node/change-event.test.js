// The client-wide `change` event: every document the local store changed, of every collection,
// with its collection: local writes, hub changes, and another tab's writes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory, fakeLocks } from '../helpers/util.js'

test('change: local writes and hub changes of every collection, before the subscribe callbacks', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const seen = []
  client.addEventListener('change', (e) => seen.push(...e.detail.map((c) => [c.type, c.coll, c.id, c.doc?.n ?? null])))
  const order = []
  client.addEventListener('change', () => order.push('event'))
  const todos = client.collection('todos')
  const notes = client.collection('notes')
  todos.subscribe(() => order.push('subscribe'))
  await waitFor(() => client.status === 'live')
  await Promise.all([todos.put({ id: 'a', n: 1 }), notes.put({ id: 'b', n: 2 })])
  await todos.delete('a')
  assert.deepEqual(seen, [['put', 'todos', 'a', 1], ['put', 'notes', 'b', 2], ['delete', 'todos', 'a', null]])
  assert.deepEqual(order.slice(0, 2), ['event', 'subscribe'])
  hub.write('notes', 'c', { n: 3 })
  await waitFor(() => seen.some(([, coll, id]) => coll === 'notes' && id === 'c'), { what: 'the hub change' })
  assert.deepEqual(seen.at(-1), ['put', 'notes', 'c', 3])
})

test('change: fired in a tab for the writes of another tab of the same database', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const indexedDB = new IDBFactory()
  const locks = fakeLocks()
  const a = makeClient(hub.url, { indexedDB, locks, BroadcastChannel })
  t.after(() => a.close())
  await waitFor(() => a.status === 'live')
  const b = makeClient(hub.url, { indexedDB, locks, BroadcastChannel })
  t.after(() => b.close())
  const changes = record(b, 'change')
  await a.collection('todos').put({ id: 'x', n: 1 })
  await waitFor(() => changes.length > 0, { what: 'the other tab\'s write' })
  assert.deepEqual(changes[0].map((c) => [c.type, c.coll, c.id]), [['put', 'todos', 'x']])
})

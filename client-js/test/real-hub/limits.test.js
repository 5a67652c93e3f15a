// Against the real hub: a write the hub will never accept fails alone, leaves the outbox and is
// reported; the hub's document limits reach the client in `welcome`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { client, RUN, NOWHERE, waitFor, record, IDBFactory } from './helpers.js'

test('writes the hub refuses (4413, 4404) leave the outbox and are reported; the others apply', { timeout: 30000 }, async (t) => {
  const idb = new IDBFactory()
  const dbName = `limits-${RUN}`
  // offline, a client that believes in looser limits queues what the hub will refuse
  const loose = { bytes: 1 << 20, entries: 100000, depth: 16 }
  const offline = client({ url: NOWHERE, indexedDB: idb, dbName, docLimits: loose })
  await offline.collection('todos').put({ id: `${RUN}-a`, v: 1 })
  await offline.collection('todos').put({ id: `${RUN}-big`, l: new Array(10001).fill(0) })
  await offline.collection(`nope_${RUN}`).put({ id: 'x', v: 1 })
  await offline.collection('todos').put({ id: `${RUN}-c`, v: 3 })
  await offline.close()

  const c = client({ indexedDB: idb, dbName, docLimits: loose })
  t.after(() => c.close())
  const errors = record(c, 'error')
  const todos = c.collection('todos')
  await c.flush()
  assert.equal(await c.pendingCount(), 0)
  const refused = errors.filter((e) => e.kind === 'mutation').map((e) => [e.coll, e.id, e.code, !!e.retry])
  assert.deepEqual(refused, [['todos', `${RUN}-big`, 4413, false], [`nope_${RUN}`, 'x', 4404, false]])
  assert.equal(await todos.get(`${RUN}-big`), undefined, 'rolled back: the hub never had it')
  assert.deepEqual(await todos.get(`${RUN}-c`), { id: `${RUN}-c`, v: 3 })
  assert.equal(c.status === 'live' || c.status === 'syncing', true)
  // the hub's limits replaced the loose ones
  assert.deepEqual(c.o.docLimits, { bytes: 256 * 1024, entries: 10000, depth: 16 })
  await assert.rejects(todos.put({ id: `${RUN}-big2`, l: new Array(10001).fill(0) }), /10001 entries/)
  await waitFor(() => c.status === 'live', { timeout: 15000, what: 'live' })
})

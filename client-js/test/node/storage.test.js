// Storage against the fake hub, on an IndexedDB whose disk fills up on demand (helpers/quota-idb.js):
// quota while applying hub changes pauses sync (no reconnect loop) until `reconnect()` or a long
// timer; one write refused for quota does not fail the others queued with it; `storage()`.
import { test } from 'node:test'
import { storage as storageInfo } from '../../src/storage.js'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { quotaIDB } from '../helpers/quota-idb.js'
import { makeClient, waitFor, record, sleep } from '../helpers/util.js'

test('quota exceeded applying hub changes: paused, no reconnect loop; reconnect() resumes once space is freed', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const q = quotaIDB()
  // the pause lasts at least backoffMax (here 1 s); the reconnect backoff would retry within 100 ms
  const client = makeClient(hub.url, { indexedDB: q.factory, backoffMin: 10, backoffMax: 1000 })
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  q.full = (rec) => rec?.id === 'big'
  hub.write('todos', 'big', { blob: 'x'.repeat(1000) })
  await waitFor(() => client.status === 'paused', { what: 'paused' })
  assert.deepEqual(
    errors.map((e) => [e.kind, e.retry, e.fatal, e.cause?.name]),
    [['quota', true, false, 'QuotaExceededError']]
  )
  await waitFor(() => hub.conns.size === 0, { what: 'socket closed' })
  await sleep(500)
  assert.equal(hub.connections, 1, 'no reconnect while paused')
  assert.equal(q.aborted, 1)
  assert.equal(client.status, 'paused')
  // local writes still work (they fit), and wait for the resume
  const w = await todos.put({ id: 'small' })

  q.full = () => false
  client.reconnect()
  await waitFor(() => client.status === 'live', { what: 'live after reconnect()' })
  await waitFor(async () => (await todos.get('big'))?.blob?.length === 1000, { what: 'the change applied' })
  assert.equal((await w.result).status, 'applied')
  assert.equal(hub.connections, 2)
})

test('paused: sync retries by itself after a long delay and resumes once space is freed', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const q = quotaIDB()
  const client = makeClient(hub.url, { indexedDB: q.factory, backoffMin: 10, backoffMax: 100 })
  t.after(() => client.close())
  const statuses = record(client, 'status')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  q.full = (rec) => rec?.id === 'big'
  hub.write('todos', 'big', { n: 1 })
  await waitFor(() => client.status === 'paused')
  // still full at the first retry: paused again, the next delay longer
  await waitFor(() => statuses.filter((s) => s.newStatus === 'paused').length === 2, { what: 'second pause' })
  q.full = () => false
  await waitFor(() => client.status === 'live', { what: 'resumed on its own', timeout: 8000 })
  assert.equal((await todos.get('big'))?.n, 1)
  assert.ok(hub.connections >= 3 && hub.connections < 6, `a few retries, not a loop: ${hub.connections}`)
})

test('one write refused for quota does not fail the others queued in the same tick', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const q = quotaIDB()
  const client = makeClient(hub.url, { indexedDB: q.factory })
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  q.full = (rec) => rec?.id === 'huge'
  const [a, huge, b] = await Promise.allSettled([todos.put({ id: 'a' }), todos.put({ id: 'huge', blob: 'x' }), todos.put({ id: 'b' })])
  assert.equal(a.status, 'fulfilled')
  assert.equal(b.status, 'fulfilled')
  assert.equal(huge.status, 'rejected')
  assert.equal(huge.reason.name, 'QuotaExceededError')
  assert.deepEqual(
    errors.map((e) => [e.kind, e.retry]),
    [['quota', false]]
  )
  assert.ok(a.value.seq < b.value.seq)
  assert.deepEqual((await client.pendingWrites()).map((p) => p.id).filter((id) => id !== 'a' && id !== 'b'), [])
  await client.flush()
  assert.deepEqual(hub.docs('todos').map((d) => d.id).sort(), ['a', 'b'])
  assert.equal(await todos.get('huge'), undefined)
})

test('storage(): persisted, usage and quota from env.storage; nulls without it', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  let asked = 0
  const storage = {
    persist: async () => (asked++, true),
    estimate: async () => ({ usage: 1234, quota: 5678 }),
  }
  const c1 = makeClient(hub.url, { env: { storage } })
  t.after(() => c1.close())
  assert.deepEqual(await storageInfo(c1), { persisted: true, usage: 1234, quota: 5678 })
  assert.equal(asked, 1)
  const c2 = makeClient(hub.url, { env: { storage: null } })
  t.after(() => c2.close())
  assert.deepEqual(await storageInfo(c2), { persisted: false, usage: null, quota: null })
  const c3 = makeClient(hub.url, { env: { storage: { estimate: async () => ({ usage: 1 }) } } })
  t.after(() => c3.close())
  assert.deepEqual(await storageInfo(c3), { persisted: false, usage: 1, quota: null })
})

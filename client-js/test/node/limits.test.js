// One document must not stop sync (docs/protocol.md "Document limits"): placeholders are held,
// refused writes leave the outbox and are reported, "retry later" writes stay, oversize puts are
// refused locally.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record } from '../helpers/util.js'

const placeholder = { $oversize: { reason: 'entries', limit: 10000, size: 20000 } }

test('a placeholder from the hub is stored and shown as oversize; sync goes on', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 'huge', placeholder)
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const seen = []
  const todos = client.collection('todos')
  todos.subscribe((ch) => seen.push(...ch))
  await waitFor(() => client.status === 'live', { what: 'live' })
  assert.deepEqual(await todos.get('huge'), { ...placeholder, id: 'huge' })
  hub.write('todos', 'huge2', placeholder)
  hub.write('todos', 'small', { v: 1 })
  await waitFor(async () => (await todos.get('small'))?.v === 1, { what: 'later change' })
  assert.deepEqual(seen.filter((c) => c.oversize).map((c) => c.id), ['huge', 'huge2'])
  assert.equal(seen.find((c) => c.id === 'small').oversize, undefined)
  assert.equal(hub.connections, 1, 'never reconnected')
  // a placeholder cannot be written back
  await assert.rejects(todos.put({ ...(await todos.get('huge')), note: 1 }), /\$oversize is reserved/)
})

test('the client decodes a frame holding a document at the entry limit', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  // 9,999 fields and the `id` the fake hub keeps in its documents: a map of 10,000 entries
  const big = Object.fromEntries(Array.from({ length: 9999 }, (_, i) => ['k' + i, i]))
  hub.write('todos', 'wide', big)
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live', { what: 'live' })
  const wide = await todos.get('wide')
  assert.equal(Object.keys(wide).length, 10000)
  assert.equal(hub.connections, 1)
  await todos.put({ ...wide, k0: -1 }) // as the hub counts: without `id`
  await client.flush()
})

test('put over the limits is refused locally; the hub\'s limits from welcome apply', async (t) => {
  const hub = await startFakeHub({ docLimits: { bytes: 30000, entries: 20000, depth: 16 } })
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const todos = client.collection('todos')
  let deep = { x: 1 }
  for (let i = 0; i < 16; i++) deep = { d: deep }
  await assert.rejects(todos.put({ id: 'd', deep }), /depth 17, limit 16/)
  await assert.rejects(todos.put({ id: 'l', l: new Array(10001).fill(0) }), /10001 entries, limit 10000/)
  await waitFor(() => client.status === 'live', { what: 'live' })
  await todos.put({ id: 'l', l: new Array(10001).fill(0) }) // the hub allows 20000
  await assert.rejects(todos.put({ id: 'b', s: 'x'.repeat(40000) }), /bytes, limit 30000/)
  assert.equal(await client.pendingCount() <= 1, true)
  assert.equal(await todos.get('d'), undefined)
  await client.flush()
})

test('a refused mutation leaves the outbox, rolls back and is reported with seq and code; the batch goes on', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 'b', { v: 'server' })
  hub.refuse = (m) => (m.id === 'b' ? { code: 4413, msg: 'document entries 10001 over the limit of 10000' } : null)
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live', { what: 'live' })
  await Promise.all([todos.put({ id: 'a', v: 1 }), todos.put({ id: 'b', v: 'mine' }), todos.put({ id: 'c', v: 3 })])
  await client.flush()
  assert.equal(await client.pendingCount(), 0)
  assert.deepEqual(await todos.get('b'), { id: 'b', v: 'server' }, 'rolled back to the server copy')
  assert.deepEqual([hub.get('todos', 'a').doc.v, hub.get('todos', 'c').doc.v], [1, 3])
  const seq = hub.received.find((m) => m.t === 'mut').batch.find((x) => x.id === 'b').seq
  assert.deepEqual(errors.map((e) => [e.kind, e.coll, e.id, e.seq, e.code]), [['mutation', 'todos', 'b', seq, 4413]])
  assert.equal(hub.connections, 1)
})

test('"retry later" (4504) keeps the write in the outbox; it applies on the next connection', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  let served = false
  hub.refuse = (m) => (m.coll === 'newer' && !served ? { code: 4504, msg: 'not served by this hub; retry' } : null)
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const newer = client.collection('newer')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live', { what: 'live' })
  await newer.put({ id: 'n', v: 1 })
  await todos.put({ id: 't', v: 1 })
  await waitFor(() => errors.length === 1 && hub.get('todos', 't'), { what: 'retry report and the other write' })
  await newer.put({ id: 'n', v: 2 }) // depends on the held write: must not go before it
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(hub.received.filter((m) => m.t === 'mut').flatMap((m) => m.batch).filter((x) => x.coll === 'newer').length, 1)
  assert.deepEqual([errors[0].kind, errors[0].coll, errors[0].code, errors[0].retry], ['mutation', 'newer', 4504, true])
  assert.equal(await client.pendingCount(), 2)
  assert.deepEqual(await newer.get('n'), { id: 'n', v: 2 }, 'the local view stays')
  assert.equal(hub.get('newer', 'n'), undefined)
  served = true // the rolling deploy reached this hub
  hub.closeAll(4500, 'going away')
  await client.flush()
  assert.deepEqual(hub.get('newer', 'n').doc, { id: 'n', v: 2 })
  assert.deepEqual(await newer.get('n'), { id: 'n', v: 2 })
})

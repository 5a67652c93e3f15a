// `update(id, fn)`: read-modify-write in one local transaction, against the fake hub. The write is
// based on the version `fn` read, so a hub change that lands between an app's read and its write
// is refused under reject-if-stale instead of being overwritten (the lost update `get()` then
// `put()` allows, found by the chaos suite: schedule 1/32).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record } from '../helpers/util.js'

const muts = (hub) => hub.received.filter((m) => m.t === 'mut').flatMap((m) => m.batch)

test('get() then put() bases the write on the version held at put(); update() on the version its fn read', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('stale', 'r', { hist: [1] })
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const conflicts = record(client, 'conflict')
  const stale = client.collection('stale')
  await waitFor(async () => (await stale.get('r'))?.hist?.length === 1, { what: 'first version' })
  const v1 = hub.get('stale', 'r').ver

  // the app reads, another writer changes the document, the change arrives, the app writes
  const read = await stale.get('r')
  hub.write('stale', 'r', { hist: [1, 2] })
  await waitFor(async () => (await stale.get('r'))?.hist?.length === 2, { what: 'second version' })
  const v2 = hub.get('stale', 'r').ver
  assert.ok(v2 > v1)
  // put() cannot know what the app read: it writes on top of v2 and the hub takes it (2 is lost)
  const p = await stale.put({ ...read, hist: [...read.hist, 3] })
  assert.equal((await p.result).status, 'applied')
  assert.equal(BigInt(muts(hub).at(-1).base), v2)
  assert.deepEqual(hub.get('stale', 'r').doc.hist, [1, 3])

  // update(): fn sees the version its write is based on, so nothing in between is lost
  const v3 = hub.get('stale', 'r').ver
  let seen
  const u = await stale.update('r', (cur) => {
    seen = cur
    return { ...cur, hist: [...cur.hist, 4] }
  })
  assert.deepEqual(seen, { id: 'r', hist: [1, 3] })
  assert.equal((await u.result).status, 'applied')
  assert.equal(BigInt(muts(hub).at(-1).base), v3)
  assert.deepEqual(hub.get('stale', 'r').doc.hist, [1, 3, 4])
  assert.deepEqual(conflicts, [])
})

test('update() of a document changed on the hub before the write is sent: rejected, reported, view = server', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('stale', 'r', { hist: [1] })
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const conflicts = record(client, 'conflict')
  const stale = client.collection('stale')
  await waitFor(async () => (await stale.get('r'))?.hist?.length === 1, { what: 'first version' })
  hub.ignoreMuts = true
  const u = await stale.update('r', (cur) => ({ ...cur, hist: [...(cur?.hist ?? []), 9] }))
  await waitFor(() => muts(hub).length === 1, { what: 'mut sent' })
  hub.write('stale', 'r', { hist: [1, 11] })
  hub.ignoreMuts = false
  hub.terminateAll()
  const r = await u.result
  assert.equal(r.status, 'rejected')
  await waitFor(() => conflicts.length === 1, { what: 'conflict event' })
  assert.deepEqual([conflicts[0].seq, conflicts[0].local.hist], [u.seq, [1, 9]])
  assert.deepEqual(hub.get('stale', 'r').doc.hist, [1, 11])
  assert.deepEqual(await stale.get('r'), { id: 'r', hist: [1, 11] })
})

test('update(): absent documents, deletes, chained updates in one tick, and a bad result that fails alone', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  // absent: fn gets undefined; two updates issued together each see the one before
  const [a, b, bad, c] = await Promise.allSettled([
    todos.update('n', (cur) => ({ xs: [...(cur?.xs ?? []), 1] })),
    todos.update('n', (cur) => ({ xs: [...(cur?.xs ?? []), 2] })),
    todos.update('n', () => ({ $oversize: 1 })),
    todos.update('m', (cur) => ({ first: cur === undefined })),
  ])
  assert.equal(a.status, 'fulfilled')
  assert.equal(b.status, 'fulfilled')
  assert.equal(c.status, 'fulfilled')
  assert.equal(bad.status, 'rejected')
  assert.ok(bad.reason instanceof TypeError && /update: field \$oversize is reserved/.test(bad.reason.message), String(bad.reason))
  assert.deepEqual(await todos.get('n'), { id: 'n', xs: [1, 2] })
  assert.deepEqual(await todos.get('m'), { id: 'm', first: true })
  await client.flush()
  assert.deepEqual(hub.get('todos', 'n').doc, { id: 'n', xs: [1, 2] })
  // null deletes
  await (await todos.update('n', () => null)).result
  assert.equal(await todos.get('n'), undefined)
  assert.equal(hub.get('todos', 'n')?.doc ?? null, null)
  await assert.rejects(todos.update('', () => ({})), /update: doc\.id/)
  await assert.rejects(todos.put({ v: 1 }), /put: doc\.id/)
  assert.deepEqual(errors, [], 'a refused document is the caller\'s error, not an error event')
})

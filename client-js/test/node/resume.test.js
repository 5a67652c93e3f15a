// An interrupted sync resumes from the cursor of the last page stored, when that is safe.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory } from '../helpers/util.js'

const id = (i) => 'd' + String(i).padStart(2, '0')

/** A fake hub with 35 documents d00..d34 (versions in that order), 10 per page. */
async function hub35(t) {
  const hub = await startFakeHub({ pageSize: 10 })
  t.after(() => hub.close())
  for (let i = 0; i < 35; i++) hub.write('todos', id(i), { i })
  return hub
}

const subs = (hub) => hub.received.filter((m) => m.t === 'sub')
const ids = async (c) => (await c.collection('todos').getAll()).map((d) => d.id).sort()
const hubIds = (hub) => hub.docs('todos').map((d) => d.id).sort()

test('a first sync cut after two pages resumes from the second page, not from zero', async (t) => {
  const hub = await hub35(t)
  hub.stallAfterPages = 2
  const client = makeClient(hub.url, { indexedDB: new IDBFactory() })
  t.after(() => client.close())
  client.collection('todos')
  // a page's documents and its cursor commit together: once they are there, so is the cursor
  await waitFor(async () => (await ids(client)).length === 20, { what: 'two pages stored' })
  const resumeAt = hub.get('todos', id(19)).ver
  // meanwhile: a document of the first pages is deleted, one of the later pages edited
  hub.write('todos', id(5), null)
  hub.write('todos', id(25), { i: -25 })
  hub.stallAfterPages = null
  hub.terminateAll()
  await waitFor(() => client.status === 'live', { what: 'live again' })

  const [first, second] = subs(hub)
  assert.equal(first.cursor, null)
  assert.deepEqual(second.cursor, [hub.epoch, resumeAt])
  assert.deepEqual(await ids(client), hubIds(hub))
  assert.equal(await client.collection('todos').get(id(5)), undefined)
  assert.deepEqual(await client.collection('todos').get(id(25)), { id: id(25), i: -25 })
})

test('a snapshot that resets documents already held keeps the old cursor when cut', async (t) => {
  const hub = await hub35(t)
  const client = makeClient(hub.url, { indexedDB: new IDBFactory() })
  t.after(() => client.close())
  client.collection('todos')
  await waitFor(() => client.status === 'live', { what: 'live' })
  const held = subs(hub).length
  const old = [hub.epoch, hub.get('todos', id(34)).ver]

  // a new epoch (the cache was recreated) without d00: the next sub gets `resync` and a snapshot
  // with reset, cut after one page; only the reset at its end can remove d00
  hub.newEpoch('e2')
  hub.data.get('todos').delete(id(0))
  hub.stallAfterPages = 1
  const progress = record(client, 'progress')
  const resyncs = record(client, 'resync')
  hub.terminateAll()
  await waitFor(() => resyncs.length === 1 && progress.some((p) => p.done === 10), { what: 'first page of the snapshot' })
  await new Promise((r) => setTimeout(r, 50))
  hub.stallAfterPages = null
  hub.terminateAll()
  await waitFor(() => client.status === 'live' && subs(hub).length === held + 2, { what: 'live again' })

  assert.deepEqual(subs(hub).at(-1).cursor, old, 'the page of the cut snapshot was not taken as the cursor')
  assert.deepEqual(await ids(client), hubIds(hub), 'the full snapshot then reset what it lacked')
  assert.equal(await client.collection('todos').get(id(0)), undefined)
})

test('a first sync over local writes not yet synced does not store page cursors', async (t) => {
  const hub = await hub35(t)
  const idb = new IDBFactory()
  const offline = makeClient('ws://127.0.0.1:9/sync', { indexedDB: idb })
  await offline.collection('todos').put({ id: 'mine' })
  await offline.close()
  hub.ignoreMuts = true
  hub.stallAfterPages = 2
  const client = makeClient(hub.url, { indexedDB: idb })
  t.after(() => client.close())
  client.collection('todos')
  await waitFor(async () => (await ids(client)).length === 21, { what: 'two pages stored' })
  hub.stallAfterPages = null
  hub.ignoreMuts = false
  hub.terminateAll()
  await client.flush()
  await waitFor(() => client.status === 'live', { what: 'live again' })
  assert.deepEqual(subs(hub).map((s) => s.cursor), [null, null])
  assert.deepEqual(await ids(client), hubIds(hub))
})

test('a socket cut while a large page is being stored: the next connection still syncs', async (t) => {
  const hub = await startFakeHub({ pageSize: 3000 })
  t.after(() => hub.close())
  for (let i = 0; i < 3000; i++) hub.write('todos', 'x' + i, { i })
  hub.stallAfterPages = 1
  hub.onHello = (conn) => {
    // the page goes out, then the socket dies while the client is still storing it
    if (hub.connections === 1) setTimeout(() => conn.ws.terminate(), 30)
    else hub.stallAfterPages = null
  }
  const client = makeClient(hub.url, { indexedDB: new IDBFactory() })
  t.after(() => client.close())
  client.collection('todos')
  await waitFor(() => client.status === 'live', { timeout: 20000, what: 'live on the second connection' })
  assert.equal((await client.collection('todos').getAll()).length, 3000)
})

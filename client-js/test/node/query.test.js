// Local and live queries (synchub-client/query) on fake-indexeddb: the schema upgrade that adds
// indexes to a database in use, what queries return (pending writes in, tombstones out, null and
// booleans), live queries fed by local writes, the hub, acks and other tabs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, IDBFactory, fakeLocks, sleep, record } from '../helpers/util.js'
import { query, indexes } from '../../src/query.js'
import { matches, constraints, comparator } from '../../src/core/query.js'

const OFFLINE = 'ws://127.0.0.1:9/sync'
const IX = { todos: ['n', ['team', 'done', 'n']] }

/** Count the read-only `docs` transactions (query evaluations) of a client. */
async function countReads(client) {
  const { store } = await client.ready
  const db = store.db
  const tx = db.transaction.bind(db)
  const seen = { n: 0 }
  db.transaction = (names, mode) => {
    if (names === 'docs' && mode === 'readonly') seen.n++
    return tx(names, mode)
  }
  return seen
}

test('declaring indexes upgrades an existing database: documents, outbox and clock kept, tombstones not indexed', async (t) => {
  const idb = new IDBFactory()
  const old = makeClient(OFFLINE, { indexedDB: idb })
  const todos = old.collection('todos')
  for (let i = 0; i < 20; i++) await todos.put({ id: 't' + i, n: i, team: i % 2 ? 'a' : 'b', done: i % 3 === 0 })
  await todos.delete('t1')
  await old.close()

  const client = makeClient(OFFLINE, { indexedDB: idb, indexes: indexes(IX) })
  t.after(() => client.close())
  const q = query(client.collection('todos'))
  const a = q.where('team', '==', 'a').where('done', '==', false).orderBy('n', 'desc')
  assert.equal(a.explain().index, 'q:todos:team,done,n')
  assert.deepEqual((await a.get()).map((d) => d.n), [19, 17, 13, 11, 7, 5])
  assert.equal(await a.count(), 6)
  assert.deepEqual((await q.where('n', '<', 3).get()).map((d) => d.id), ['t0', 't2'], 'the tombstone t1 is not returned')
  const { store } = await client.ready
  assert.equal(store.db.version, 2)
  assert.deepEqual([...store.db.transaction('docs').objectStore('docs').indexNames].sort(), ['q:todos:n', 'q:todos:team,done,n'])
  assert.equal((await client.pendingWrites()).length, 21, 'the outbox survives the upgrade')
  const w = await client.collection('todos').put({ id: 'new', n: 100 })
  assert.equal(w.seq, 22, 'the clock survives the upgrade')
  await client.close()

  // the same declaration again: no upgrade; one more index: one more version
  const again = makeClient(OFFLINE, { indexedDB: idb, indexes: indexes(IX) })
  assert.equal((await again.ready).store.db.version, 2)
  await again.close()
  const more = makeClient(OFFLINE, { indexedDB: idb, indexes: indexes({ todos: ['team'] }) })
  t.after(() => more.close())
  assert.equal((await more.ready).store.db.version, 3)
  assert.equal(await query(more.collection('todos')).where('team', '==', 'b').count(), 10)
  // indexes no longer declared stay (another tab may still use them)
  assert.equal((await more.ready).store.db.transaction('docs').objectStore('docs').indexNames.length, 3)
})

test('a client without indexes opens a database that has them (version above 1), and scans', async (t) => {
  const idb = new IDBFactory()
  const a = makeClient(OFFLINE, { indexedDB: idb, indexes: indexes(IX) })
  await a.collection('todos').put({ id: 'x', n: 1 })
  await a.close()
  const b = makeClient(OFFLINE, { indexedDB: idb })
  t.after(() => b.close())
  const warn = t.mock.method(console, 'warn', () => {})
  const q = query(b.collection('todos')).where('n', '==', 1)
  assert.deepEqual(await q.get(), [{ id: 'x', n: 1 }])
  assert.equal(q.explain().index, null)
  assert.match(String(warn.mock.calls[0]?.arguments[0]), /no index serves .*scanning the collection/)
  await q.get()
  assert.equal(warn.mock.callCount(), 1, 'said once per query shape')
})

test('null, booleans, dates, missing fields: queried through the index, in a defined order', async (t) => {
  const client = makeClient(OFFLINE, { indexes: indexes({ t: ['v', ['flag', 'v']] }) })
  t.after(() => client.close())
  const c = client.collection('t')
  const vals = { a: 2, b: 'x', c: null, d: true, e: false, f: undefined, g: new Date(5), h: { o: 1 }, i: -1 }
  for (const [id, v] of Object.entries(vals)) await c.put(v === undefined ? { id, flag: id < 'e' } : { id, v, flag: id < 'e' })
  const q = query(c)
  assert.deepEqual((await q.orderBy('v').get()).map((d) => d.id), ['i', 'a', 'g', 'b', 'c', 'e', 'd', 'f', 'h'])
  assert.deepEqual((await q.orderBy('v', 'desc').get()).map((d) => d.id), ['h', 'f', 'd', 'e', 'c', 'b', 'g', 'a', 'i'])
  assert.deepEqual((await q.where('v', '==', null).get()).map((d) => d.id), ['c'])
  assert.deepEqual((await q.where('v', '==', false).get()).map((d) => d.id), ['e'])
  assert.deepEqual((await q.where('v', '>=', false).get()).map((d) => d.id), ['d', 'e'])
  assert.deepEqual((await q.where('v', '>', 0).get()).map((d) => d.id), ['a'], 'numbers only')
  assert.deepEqual((await q.where('v', '<', new Date(10)).get()).map((d) => d.id), ['g'])
  const f = q.where('flag', '==', true).where('v', 'in', [2, null, 'x'])
  assert.equal(f.explain().index, 'q:t:flag,v')
  assert.equal(f.explain().exact, true)
  assert.deepEqual((await f.get()).map((d) => d.id), ['a', 'b', 'c'])
})

test('pages with startAfter, limits, counts; pending local writes are in the results', async (t) => {
  const client = makeClient(OFFLINE, { indexes: indexes(IX) })
  t.after(() => client.close())
  const c = client.collection('todos')
  await Promise.all(Array.from({ length: 30 }, (_, i) => c.put({ id: 'p' + String(i).padStart(2, '0'), n: i % 10, team: 'a', done: false })))
  const q = query(c).where('team', '==', 'a').where('done', '==', false).orderBy('n', 'desc')
  const seen = []
  let page = await q.limit(7).get()
  while (page.length) {
    seen.push(...page)
    page = await q.limit(7).startAfter(page[page.length - 1]).get()
  }
  assert.deepEqual(seen.map((d) => d.id), (await q.get()).map((d) => d.id))
  assert.equal(seen.length, 30)
  assert.deepEqual(seen.slice(0, 4).map((d) => d.id), ['p29', 'p19', 'p09', 'p28'], 'ties by id, descending with the order')
  assert.equal(await q.limit(5).count(), 5)
  assert.equal(await q.where('n', '>=', 8).count(), 6)
  await c.put({ id: 'p00', n: 99, team: 'a', done: false })
  assert.equal((await q.limit(1).get())[0].id, 'p00', 'a pending write is visible at once')
})

test('queries agree with getAll() filtered in memory after random writes', async (t) => {
  const client = makeClient(OFFLINE, { indexes: indexes({ r: ['x', ['y', 'x']] }) })
  t.after(() => client.close())
  const c = client.collection('r')
  let s = 7
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  const vals = [1, 2, 3, 'a', 'b', null, true, false, undefined]
  const pick = (a) => a[Math.floor(r() * a.length)]
  for (let round = 0; round < 8; round++) {
    const ops = []
    for (let i = 0; i < 25; i++) {
      const id = 'k' + Math.floor(r() * 40)
      ops.push(r() < 0.2 ? c.delete(id) : c.put({ id, x: pick(vals), y: pick(vals) }))
    }
    await Promise.all(ops)
    const all = await c.getAll()
    for (let k = 0; k < 10; k++) {
      const where = [{ field: pick(['x', 'y']), op: pick(['==', '<=', '>', 'in']), value: null }]
      where[0].value = where[0].op === 'in' ? [pick(vals.slice(0, 8)), pick(vals.slice(0, 8))] : pick(vals.slice(0, 8))
      const order = r() < 0.5 ? [{ field: 'x', dir: pick(['asc', 'desc']) }] : []
      const limit = r() < 0.5 ? 3 : null
      let q = query(c).where(where[0].field, where[0].op, where[0].value)
      for (const o of order) q = q.orderBy(o.field, o.dir)
      if (limit != null) q = q.limit(limit)
      const want = all.filter((d) => matches(d, constraints(where))).sort(comparator(order))
      assert.deepEqual((await q.get()).map((d) => d.id), want.slice(0, limit ?? Infinity).map((d) => d.id), JSON.stringify({ where, order, limit }))
      assert.equal(await q.count(), Math.min(want.length, limit ?? Infinity))
    }
  }
})

test('live query: whole result at once, after local writes and hub changes; unrelated changes cost no read', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.write('todos', 's1', { n: 1, team: 'a', done: false })
  const client = makeClient(hub.url, { indexes: indexes(IX) })
  t.after(() => client.close())
  const c = client.collection('todos')
  await waitFor(() => client.status === 'live', { what: 'live' })
  const calls = []
  const stop = query(c).where('team', '==', 'a').orderBy('n').observe((docs, meta) => calls.push({ ids: docs.map((d) => d.id), ...meta }))
  t.after(stop)
  await waitFor(() => calls.length === 1, { what: 'first result' })
  assert.deepEqual(calls[0], { ids: ['s1'], pending: false, fromCache: false })

  hub.holdAcks = true
  await c.put({ id: 'l1', n: 0, team: 'a', done: false })
  await waitFor(() => calls.length === 2, { what: 'local write' })
  assert.deepEqual(calls[1], { ids: ['l1', 's1'], pending: true, fromCache: false })

  hub.write('todos', 's2', { n: 5, team: 'a', done: true })
  await waitFor(() => calls.length === 3, { what: 'hub change' })
  assert.deepEqual(calls[2].ids, ['l1', 's1', 's2'])

  const reads = await countReads(client)
  await c.put({ id: 'other', n: 3, team: 'b', done: false })
  hub.write('todos', 'other2', { n: 3, team: 'c' })
  await waitFor(async () => (await c.get('other2')) !== undefined, { what: 'other2 stored' })
  await sleep(50)
  assert.equal(calls.length, 3, 'documents outside the result that do not match: no callback')
  assert.equal(reads.n, 0, '... and no query read')

  // the ack of l1 (resent on the next connection) changes no document, only `pending`
  assert.equal(calls.at(-1).pending, true)
  hub.holdAcks = false
  hub.terminateAll()
  await client.flush()
  await waitFor(() => calls.at(-1).pending === false, { what: 'pending cleared by the ack' })

  hub.write('todos', 's1', null)
  await waitFor(() => !calls.at(-1).ids.includes('s1'), { what: 'remote delete leaves the result' })
})

test('live query: snapshot accessor for useSyncExternalStore; fromCache follows the status; close stops it', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url, { indexes: indexes(IX) })
  t.after(() => client.close())
  const c = client.collection('todos')
  await c.put({ id: 'a', n: 1, team: 'x', done: false })
  const lq = query(c).where('n', '>=', 1).live()
  const first = lq.getSnapshot()
  assert.equal(first.loading, true)
  assert.equal(lq.getSnapshot(), first, 'the same object until something changed')
  let notified = 0
  const unsub = lq.subscribe(() => notified++)
  await waitFor(() => !lq.getSnapshot().loading, { what: 'loaded' })
  assert.deepEqual(lq.getSnapshot().docs.map((d) => d.id), ['a'])
  await waitFor(() => lq.getSnapshot().fromCache === false, { what: 'fromCache false once live' })
  const live = lq.getSnapshot()
  await hub.close()
  await waitFor(() => lq.getSnapshot().fromCache === true, { what: 'fromCache again once offline' })
  assert.equal(lq.getSnapshot().docs, live.docs, 'unchanged documents keep their array')
  const n = notified
  unsub()
  lq.close()
  await c.put({ id: 'b', n: 2 })
  await sleep(30)
  assert.equal(notified, n)
})

test('live query in another tab: sees this tab\'s writes', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'q-tabs-' + Math.random(), indexes: indexes(IX) }
  const a = makeClient(hub.url, shared)
  const b = makeClient(hub.url, shared)
  t.after(() => a.close())
  t.after(() => b.close())
  const got = []
  const stop = query(b.collection('todos')).where('team', '==', 'z').observe((docs) => got.push(docs.map((d) => d.id)))
  t.after(stop)
  // (a second call may follow at once: `fromCache` turns false when B hears the status)
  await waitFor(() => got.length >= 1, { what: 'first result' })
  assert.deepEqual(got[0], [])
  await a.collection('todos').put({ id: 'fromA', n: 1, team: 'z' })
  await waitFor(() => got.at(-1).includes('fromA'), { what: 'B sees A\'s write' })
})

test('acked event: the verdicts of the hub, in every tab', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const acked = record(client, 'acked')
  const w = await client.collection('todos').put({ id: 'a' })
  await client.flush()
  await waitFor(() => acked.length > 0, { what: 'acked' })
  assert.deepEqual(acked.flat().map((r) => [r.seq, r.status]), [[w.seq, 'applied']])
})

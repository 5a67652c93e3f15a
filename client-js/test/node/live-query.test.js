// Live queries kept by patching (src/live-query.js, src/live-window.js) on fake-indexeddb, against a
// fresh `get()` after every batch of random changes: local puts and deletes (pending until the hub
// acknowledges them), hub writes and tombstones, acknowledgements held and released, resyncs,
// writes of another tab; random queries (indexed and scanned; ==, <, <=, >, >=, in; orderBy asc/desc; limit;
// startAfter). Also: patches read only the changed documents, a short window reads again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, IDBFactory, fakeLocks } from '../helpers/util.js'
import { rng, pick, randomDoc, randomSpec } from '../helpers/random-query.js'
import { query, indexes } from '../../src/query.js'

const IX = { todos: ['n', ['a', 'b', 'n'], ['b', 'a']] }

/** Count the reads of whole results (getAll / cursors of read-only transactions) and the reads by id. */
function countReads() {
  const n = { whole: 0, byId: 0, on: true }
  const wrap = (proto, name, key) => {
    const f = proto[name]
    proto[name] = function (...args) {
      if (n.on && (this.transaction ?? this.objectStore.transaction).mode === 'readonly') n[key]++
      return f.apply(this, args)
    }
    return () => (proto[name] = f)
  }
  const undo = [
    wrap(globalThis.IDBIndex.prototype, 'getAll', 'whole'),
    wrap(globalThis.IDBIndex.prototype, 'openCursor', 'whole'),
    wrap(globalThis.IDBObjectStore.prototype, 'getAll', 'whole'),
    wrap(globalThis.IDBObjectStore.prototype, 'get', 'byId'),
  ]
  n.restore = () => undo.forEach((f) => f())
  return n
}

/** Build the query of a random spec. */
function build(c, spec) {
  let q = query(c)
  for (const w of spec.where) q = q.where(w.field, w.op, w.value)
  for (const o of spec.order) q = q.orderBy(o.field, o.dir)
  if (spec.limit != null) q = q.limit(spec.limit)
  if (spec.after) q = q.startAfter(spec.after)
  return q
}

/** Whether any of these documents has pending writes, from the stored records. */
async function pendingOf(client, ids) {
  const { store } = await client.ready
  const s = store.db.transaction('docs', 'readonly').objectStore('docs')
  const recs = await Promise.all(ids.map((id) => new Promise((res, rej) => {
    const r = s.get(['todos', id])
    r.onsuccess = () => res(r.result)
    r.onerror = () => rej(r.error)
  })))
  return recs.some((x) => x && x.pend > 0)
}

test('live queries: the patched result equals a fresh get() after every batch of random changes', async (t) => {
  const warn = console.warn
  console.warn = () => {} // scans are reported once per shape
  t.after(() => (console.warn = warn))
  const reads = countReads()
  t.after(reads.restore)
  const seeds = Number(process.env.LIVE_QUERY_SEEDS || 3)
  let batches = 0
  for (let seed = 1; seed <= seeds; seed++) {
    const r = rng(seed * 7919)
    const hub = await startFakeHub()
    const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'lq-' + seed + '-' + Math.random(), indexes: indexes(IX) }
    const client = makeClient(hub.url, shared)
    const other = makeClient(hub.url, shared) // another tab of the same database
    try {
      const c = client.collection('todos')
      const ids = Array.from({ length: 40 }, (_, i) => 'd' + String(i).padStart(2, '0'))
      for (const id of ids) if (r() < 0.5) hub.write('todos', id, randomDoc(r, id))
      await waitFor(() => client.status === 'live', { what: 'live' })
      const lqs = Array.from({ length: 10 }, () => {
        const spec = randomSpec(r, ids, 'todos')
        const q = build(c, spec)
        return { spec, q, lq: q.live() }
      })
      t.after(() => lqs.forEach((x) => x.lq.close()))
      for (let b = 0; b < 30; b++, batches++) {
        const writes = []
        for (let k = 1 + Math.floor(r() * 5); k > 0; k--) {
          const id = pick(r, ids)
          const x = r()
          if (x < 0.35) writes.push(c.put(randomDoc(r, id)))
          else if (x < 0.45) writes.push(c.delete(id))
          else if (x < 0.7) hub.write('todos', id, randomDoc(r, id))
          else if (x < 0.8) hub.write('todos', id, null) // a tombstone from the hub
          else if (x < 0.9) writes.push(other.collection('todos').put(randomDoc(r, id)))
          else hub.holdAcks = !hub.holdAcks
        }
        await Promise.all(writes)
        // held acks are sent again after a reconnect
        if (!hub.holdAcks && r() < 0.2) hub.terminateAll()
        // a resync: the snapshot drops the documents it does not hold (unless pending here)
        else if (r() < 0.08) hub.resync('todos', r() < 0.5 ? 'snapshot' : 'catchup')
        for (const { spec, q, lq } of lqs) {
          const ctx = JSON.stringify({ seed, batch: b, spec })
          let want
          let snap
          let pending
          try {
            await waitFor(async () => {
              reads.on = false
              want = await q.get()
              pending = await pendingOf(client, want.map((d) => d.id))
              reads.on = true
              snap = lq.getSnapshot()
              return !snap.loading && !snap.error && snap.pending === pending && isDeepStrictEqual(snap.docs, want) // key order aside: equal documents keep their object
            }, { timeout: 3000, what: ctx })
          } catch (e) {
            // shows the difference
            assert.deepEqual({ docs: snap?.docs, pending: snap?.pending, error: snap?.error, loading: snap?.loading }, { docs: want, pending, error: null, loading: false }, ctx)
            throw e
          }
        }
      }
    } finally {
      await client.close()
      await other.close()
      await hub.close()
    }
  }
  // the comparison holds trivially if every change is answered by reading the whole result
  assert.ok(reads.byId > reads.whole * 3, `reads by id ${reads.byId}, whole reads ${reads.whole} (${batches} batches)`)
})

test('live query: a change reads the changed documents only; a window that runs short, or a batch of more than 256, is read again', async (t) => {
  const client = makeClient('ws://127.0.0.1:9/sync', { indexes: indexes(IX) })
  t.after(() => client.close())
  const c = client.collection('todos')
  for (let i = 0; i < 60; i++) await c.put({ id: 'i' + String(i).padStart(2, '0'), n: i, a: 1, b: true })
  const q = query(c).where('a', '==', 1).where('b', '==', true).orderBy('n', 'desc').limit(3)
  const lq = q.live()
  t.after(() => lq.close())
  await waitFor(() => !lq.getSnapshot().loading, { what: 'first result' })
  assert.deepEqual(lq.getSnapshot().docs.map((d) => d.n), [59, 58, 57])
  const reads = countReads()
  t.after(reads.restore)
  await c.put({ id: 'top', n: 100, a: 1, b: true })
  await waitFor(() => lq.getSnapshot().docs[0].id === 'top', { what: 'insert at the top' })
  assert.deepEqual(reads, { ...reads, whole: 0, byId: 1 }, 'one document read by id, no whole read')
  // 17 leave (the limit 3 + 16 read ahead, minus the one that came in): the next ones are unread
  for (let i = 59; i > 42; i--) await c.delete('i' + i)
  await waitFor(() => lq.getSnapshot().docs.map((d) => d.n).join() === '100,42,41', { what: 'window refilled' })
  assert.ok(reads.whole > 0, 'the short window was read again')
  assert.deepEqual(lq.getSnapshot().docs.map((d) => d.id), (await q.get()).map((d) => d.id))
  // one batch of 300 changes (writes of one tick share a transaction): read whole, not by id
  Object.assign(reads, { whole: 0, byId: 0 })
  await Promise.all(Array.from({ length: 300 }, (_, i) => c.put({ id: 'm' + i, n: 200 + i, a: 1, b: true })))
  await waitFor(() => lq.getSnapshot().docs[0].id === 'm299', { what: 'the batch in the result' })
  assert.ok(reads.whole > 0 && reads.byId === 0, JSON.stringify(reads))
  assert.deepEqual(lq.getSnapshot().docs.map((d) => d.id), ['m299', 'm298', 'm297'])
})

test('live query: published at once, then at most once per animation frame (later changes of the frame together in the next one)', async (t) => {
  const frames = []
  globalThis.requestAnimationFrame = (f) => frames.push(f)
  t.after(() => delete globalThis.requestAnimationFrame)
  const runFrame = () => frames.splice(0).forEach((f) => f())
  const client = makeClient('ws://127.0.0.1:9/sync', { indexes: indexes(IX) })
  t.after(() => client.close())
  const c = client.collection('todos')
  await c.put({ id: 'x0', n: 0, a: 1 })
  const calls = []
  const stop = query(c).where('a', '==', 1).orderBy('n').observe((docs) => calls.push(docs.map((d) => d.id)))
  t.after(stop)
  await waitFor(() => calls.length === 1, { what: 'first result, without waiting for a frame' })
  assert.deepEqual(calls[0], ['x0'])
  // this frame has had its publish: five writes wait for the next one, and come in it together
  for (let i = 1; i <= 5; i++) await c.put({ id: 'x' + i, n: i, a: 1 })
  await waitFor(async () => (await client.collection('todos').getAll()).length === 6, { what: 'writes stored' })
  assert.equal(calls.length, 1, 'nothing published before the frame')
  let ran = 0
  await waitFor(() => (ran++, runFrame(), calls.at(-1).length === 6), { what: 'the five writes published' })
  assert.ok(calls.length - 1 <= ran, `at most one publish per frame: ${calls.length - 1} in ${ran}`)
  assert.deepEqual(calls.at(-1), ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'])
  const n = calls.length
  // a frame without publishes: the next change is published at once
  runFrame()
  await c.put({ id: 'x6', n: 6, a: 1 })
  await waitFor(() => calls.length === n + 1, { what: 'published without a frame' })
  assert.deepEqual(calls.at(-1).at(-1), 'x6')
  assert.equal(frames.length, 1, 'and a frame is asked for, to hold back the next publish')
})

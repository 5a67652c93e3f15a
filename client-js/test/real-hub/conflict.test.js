// Against the real hub configured with: todos = lww, stale = reject-if-stale, merged = merge hook.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { client, RUN, NOWHERE, waitFor, record, IDBFactory } from './helpers.js'

/**
 * B holds `id` at the current version, edits it offline; A then writes it online; B reconnects.
 * Returns B's conflict events and B's final local doc.
 */
async function race(t, coll, id, { skew = 0, docs = {} } = {}) {
  const { a0 = { by: 'a0' }, b: bDoc = { by: 'b', extra: 1 }, a1 = { by: 'a1' } } = docs
  const now = () => Date.now() - skew
  const a = client()
  t.after(() => a.close())
  await a.collection(coll).put({ id, ...a0 })
  await a.flush()

  const idb = new IDBFactory()
  const dbName = `real-${coll}-${RUN}`
  const b1 = client({ indexedDB: idb, dbName, now })
  b1.collection(coll)
  await waitFor(async () => (await b1.collection(coll).get(id))?.by === 'a0', { timeout: 15000, what: 'b has the doc' })
  await b1.close()
  const bOff = client({ url: NOWHERE, indexedDB: idb, dbName, now })
  await bOff.collection(coll).put({ id, ...bDoc })
  await bOff.close()

  await a.collection(coll).put({ id, ...a1 })
  await a.flush()

  const b = client({ indexedDB: idb, dbName, now })
  t.after(() => b.close())
  const conflicts = record(b, 'conflict')
  b.collection(coll)
  await b.flush()
  return { conflicts, local: await b.collection(coll).get(id), a }
}

test('lww (todos): the write with the older clock loses and sees the server doc', { timeout: 60000 }, async (t) => {
  const id = `${RUN}-lww`
  const { conflicts, local } = await race(t, 'todos', id, { skew: 3600e3 })
  assert.equal(conflicts.length, 1)
  assert.equal(conflicts[0].outcome, 'conflict')
  assert.deepEqual(conflicts[0].local, { id, by: 'b', extra: 1 })
  assert.equal(conflicts[0].server.by, 'a1')
  assert.deepEqual(local, conflicts[0].server)
})

test('reject-if-stale (stale): a write based on an old version is rejected', { timeout: 60000 }, async (t) => {
  const id = `${RUN}-stale`
  const { conflicts, local } = await race(t, 'stale', id)
  assert.equal(conflicts.length, 1)
  assert.equal(conflicts[0].outcome, 'rejected')
  assert.equal(conflicts[0].server.by, 'a1')
  assert.equal(local.by, 'a1')
})

test('merge hook (merged): the hub merges and both sides converge on its doc', { timeout: 60000 }, async (t) => {
  const id = `${RUN}-merged`
  // hub.dev.demo:merge_union_max: lists unioned (stored items first), numbers keep the maximum,
  // other fields take the incoming value. The result differs from what B sent, hence `merged`
  // (a merge whose result equals the sent document is answered `ok`).
  const docs = { a0: { by: 'a0', n: 1, tags: ['x'] }, b: { by: 'b', n: 2, tags: ['x', 'b'] }, a1: { by: 'a1', n: 5, tags: ['x', 'a'] } }
  const { conflicts, local, a } = await race(t, 'merged', id, { docs })
  assert.equal(conflicts.length, 1)
  assert.equal(conflicts[0].outcome, 'merged')
  assert.deepEqual(conflicts[0].server, { id, by: 'b', n: 5, tags: ['x', 'a', 'b'] })
  assert.deepEqual(local, conflicts[0].server)
  a.collection('merged')
  await waitFor(async () => JSON.stringify(await a.collection('merged').get(id)) === JSON.stringify(local), {
    timeout: 15000,
    what: 'a sees the merged doc',
  })
})

/**
 * A WebSocket whose `mut` frames can be swallowed: the client believes them sent (in flight, no
 * ack), so a write's verdict waits for the replay on the next connection.
 */
function mutingWebSocket() {
  const ctl = { mute: false, sockets: /** @type {WebSocket[]} */ ([]) }
  class Muting extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest)
      ctl.sockets.push(this)
    }
    send(data, ...rest) {
      // mut frames start with a fixmap holding t: "mut"
      if (ctl.mute && Buffer.from(data).includes(Buffer.from([0xa1, 0x74, 0xa3, 0x6d, 0x75, 0x74]))) return
      super.send(data, ...rest)
    }
  }
  return { WebSocket: Muting, ctl }
}

test('the handle of a conflicting write resolves with the hub\'s verdict and document (lww)', { timeout: 60000 }, async (t) => {
  const id = `${RUN}-verdict`
  const a = client()
  t.after(() => a.close())
  const todosA = a.collection('todos')
  assert.equal((await (await todosA.put({ id, by: 'a0' })).result).status, 'applied')

  const { WebSocket: Muting, ctl } = mutingWebSocket()
  const b = client({ env: { WebSocket: Muting } })
  t.after(() => b.close())
  const conflicts = record(b, 'conflict')
  const todosB = b.collection('todos')
  await waitFor(async () => (await todosB.get(id))?.by === 'a0', { timeout: 15000, what: 'b has the doc' })
  await waitFor(() => b.status === 'live', { timeout: 15000, what: 'b live' })
  // B writes first (its clock is older); the hub does not see it yet
  ctl.mute = true
  const w = await todosB.put({ id, by: 'b' })
  assert.deepEqual((await b.pendingWrites()).map((p) => p.seq), [w.seq])
  // A's write must be later by the clock, not only in order: two writes stamped in the same
  // millisecond tie, and last-writer-wins breaks the tie by client id (either may win)
  const stamped = Date.now()
  while (Date.now() <= stamped) await new Promise((r) => setTimeout(r, 1))
  // A's later write lands first
  const wa = await todosA.put({ id, by: 'a1' })
  const ra = await wa.result
  assert.equal(ra.status, 'applied')
  // B's connection drops: the write is replayed, and loses to A's newer clock
  ctl.mute = false
  for (const s of ctl.sockets) s.terminate()
  const r = await w.result
  assert.equal(r.status, 'conflict')
  assert.equal(r.seq, w.seq)
  assert.deepEqual([r.coll, r.id], ['todos', id])
  assert.deepEqual(r.serverDoc, { id, by: 'a1' })
  assert.equal(r.ver, ra.ver)
  assert.equal(r.code, undefined)
  await waitFor(() => conflicts.length === 1, { what: 'conflict event' })
  assert.deepEqual([conflicts[0].seq, conflicts[0].outcome, conflicts[0].server], [w.seq, 'conflict', { id, by: 'a1' }])
  assert.deepEqual(await todosB.get(id), { id, by: 'a1' })
  assert.equal(await b.pendingCount(), 0)
})

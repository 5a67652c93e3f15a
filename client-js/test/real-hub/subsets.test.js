// Against the real hub (and Ignite): query subscriptions (partial sync) through
// `synchub-client/query`: first sync of a subset, overlapping subscriptions and ending them,
// documents moving in and out while the client is offline, a pending write keeping a document that
// left, resuming from the stored cursor after a reload, a filter the hub refuses, a named one, a
// first subset made on a client that is live already.
// The hub's `tasks` collection declares team (string), done (bool), n (long), room (string)
// (tests/integration/test_client_js.py).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { query, subset, syncNamed } from '../../src/query.js'
import { client, RUN, NOWHERE, waitFor, IDBFactory } from './helpers.js'

let n = 0
/** A team name unique to one test (the tests share the collection). */
const team = () => `${RUN}-t${++n}`

/** A client that syncs `tasks` whole: it writes what the subsets see. */
async function writer(t) {
  const w = client({ token: 'writer' })
  t.after(() => w.close())
  return { w, tasks: w.collection('tasks') }
}

/** Write `docs` through `tasks` and wait until the hub took them. */
async function put(w, tasks, ...docs) {
  for (const d of docs) await tasks.put(d)
  await w.flush()
}

const ids = async (coll) => (await coll.getAll()).map((d) => d.id).sort()

/**
 * A WebSocket whose connections can be held down (`gate.down`: it connects nowhere) and whose
 * `mut` frames can be held back (`gate.holdMut`: writes stay unacknowledged on that connection).
 */
function gated() {
  const gate = { down: false, holdMut: false, sockets: /** @type {WebSocket[]} */ ([]) }
  class Gated extends WebSocket {
    constructor(url, ...rest) {
      super(gate.down ? NOWHERE : url, ...rest)
      gate.sockets.push(this)
    }
    send(data, ...rest) {
      // mut frames start with a fixmap holding t: "mut"
      if (gate.holdMut && Buffer.from(data).includes(Buffer.from([0xa1, 0x74, 0xa3, 0x6d, 0x75, 0x74]))) return
      super.send(data, ...rest)
    }
  }
  /** Drop the connection and keep the client offline until `up()`. */
  gate.cut = () => {
    gate.down = true
    gate.sockets.at(-1)?.terminate()
  }
  return { WebSocket: Gated, gate }
}

/** The `synced` events of a handle. */
function synced(h) {
  const out = []
  h.addEventListener('synced', (e) => out.push(e.detail))
  return out
}

test('first sync of a subset: only its documents, progress, and local queries offline after a reload', { timeout: 60000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  const b = team()
  const docs = []
  for (let i = 0; i < 30; i++) docs.push({ id: `${a}-${i}`, team: i < 20 ? a : b, done: i % 2 === 1, n: i })
  await put(w, tasks, ...docs)

  const idb = new IDBFactory()
  const dbName = 'subsets-' + RUN + n
  const s = client({ indexedDB: idb, dbName })
  const todos = subset(s, 'tasks')
  const h = query(todos).where({ team: a, done: false }).sync()
  const progress = []
  h.addEventListener('progress', (e) => progress.push(e.detail))
  await h.ready
  const want = docs.filter((d) => d.team === a && !d.done).map((d) => d.id).sort()
  assert.deepEqual(await ids(todos), want, 'the subset and nothing else (the collection is not synced whole)')
  assert.equal(h.synced, true)
  assert.ok(progress.length >= 2, 'progress during the first sync, and at its end')
  assert.deepEqual(progress.at(-1), { done: want.length, synced: true })
  assert.equal(s.status, 'live')
  await s.close()

  // a reload without a hub: local queries answer over the synced subset
  const off = client({ indexedDB: idb, dbName, url: NOWHERE })
  t.after(() => off.close())
  const local = subset(off, 'tasks')
  assert.deepEqual((await query(local).where('team', '==', a).where('n', '>=', 10).get()).map((d) => d.n), [10, 12, 14, 16, 18])
  assert.equal(await query(local).where('team', '==', b).count(), 0)
})

test('overlapping subscriptions share documents; ending one removes only what no other holds; live removal', { timeout: 60000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  const b = team()
  await put(w, tasks, { id: `${a}-a1`, team: a, n: 1 }, { id: `${a}-ab`, team: a, n: 20 }, { id: `${a}-b1`, team: b, n: 30 }, { id: `${a}-b0`, team: b, n: 3 })

  const s = client()
  t.after(() => s.close())
  const todos = subset(s, 'tasks')
  const byTeam = query(todos).where('team', '==', a).sync()
  const big = query(todos).where('team', 'in', [a, b]).where('n', '>=', 10).sync()
  await Promise.all([byTeam.ready, big.ready])
  assert.deepEqual(await ids(todos), [`${a}-a1`, `${a}-ab`, `${a}-b1`])

  // a second handle of the same filter shares the subscription; ending it keeps the documents
  const again = query(todos).where('team', '==', a).sync()
  await again.ready
  await again.end()
  assert.deepEqual(await ids(todos), [`${a}-a1`, `${a}-ab`, `${a}-b1`], 'still held by the first handle')

  await byTeam.end()
  assert.deepEqual(await ids(todos), [`${a}-ab`, `${a}-b1`], 'a1 went, ab stays (held by the other)')

  // live: ab leaves the remaining subscription (n below 10): removed; b0 enters it: inserted
  await put(w, tasks, { id: `${a}-ab`, team: a, n: 5 }, { id: `${a}-b0`, team: b, n: 40 })
  await waitFor(async () => (await ids(todos)).join() === [`${a}-b0`, `${a}-b1`].join(), { timeout: 15000, what: 'live removal and insert' })

  await big.end()
  assert.deepEqual(await ids(todos), [], 'nothing held any more')
  assert.equal(s.status, 'live')
})

test('documents that move into and out of a subset while the client is offline are applied on reconnect', { timeout: 60000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  await put(w, tasks, { id: `${a}-1`, team: a, done: false }, { id: `${a}-2`, team: a, done: true }, { id: `${a}-3`, team: a, done: false })

  const g = gated()
  const s = client({ WebSocket: g.WebSocket })
  t.after(() => s.close())
  const todos = subset(s, 'tasks')
  const h = query(todos).where({ team: a, done: false }).sync()
  const syncs = synced(h)
  await h.ready
  assert.deepEqual(await ids(todos), [`${a}-1`, `${a}-3`])

  g.gate.cut()
  await waitFor(() => s.status === 'offline', { timeout: 10000, what: 'offline' })
  // 1 leaves (done), 2 enters, 3 is deleted, 4 is new and in the subset
  await put(w, tasks, { id: `${a}-1`, team: a, done: true }, { id: `${a}-2`, team: a, done: false }, { id: `${a}-4`, team: a, done: false })
  await tasks.delete(`${a}-3`)
  await w.flush()
  assert.deepEqual(await ids(todos), [`${a}-1`, `${a}-3`], 'nothing changes while offline')

  g.gate.down = false
  s.reconnect()
  await waitFor(() => syncs.length === 2, { timeout: 15000, what: 'the catch-up' })
  assert.equal(syncs[1].mode, 'catchup', 'a catch-up from the stored cursor, not a new snapshot')
  assert.deepEqual(await ids(todos), [`${a}-2`, `${a}-4`])
})

test('a pending write keeps a document that left the subset; one that leaves by its own write goes once acknowledged', { timeout: 60000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  await put(w, tasks, { id: `${a}-p`, team: a, done: false, title: 'x' }, { id: `${a}-q`, team: a, done: false }, { id: `${a}-r`, team: a, done: false })

  const g = gated()
  const s = client({ WebSocket: g.WebSocket })
  t.after(() => s.close())
  const todos = subset(s, 'tasks')
  const h = query(todos).where({ team: a, done: false }).sync()
  const syncs = synced(h)
  await h.ready

  // offline, the hub moves p out of the subset; then the user edits p locally (not sent yet)
  g.gate.cut()
  await waitFor(() => s.status === 'offline', { timeout: 10000, what: 'offline' })
  await put(w, tasks, { id: `${a}-p`, team: a, done: true, title: 'x' }, { id: `${a}-r`, team: a, done: true })
  await todos.update(`${a}-p`, (cur) => ({ ...cur, title: 'mine' }))
  // r: the local write keeps it out of the subset too; no removal will follow its ack
  await todos.update(`${a}-r`, (cur) => ({ ...cur, done: true, title: 'also out' }))
  g.gate.holdMut = true // the write stays unacknowledged on the next connection
  g.gate.down = false
  s.reconnect()
  await waitFor(() => syncs.length === 2, { timeout: 15000, what: 'the catch-up' })
  assert.deepEqual(await todos.get(`${a}-p`), { id: `${a}-p`, team: a, done: false, title: 'mine' }, 'kept: it has a pending write')
  assert.equal((await todos.get(`${a}-r`))?.title, 'also out', 'kept: it has a pending write')

  // q leaves the subset by the client's own write: gone once the hub acknowledged it
  g.gate.holdMut = false
  g.gate.sockets.at(-1).terminate() // the held write goes out on the next connection
  await todos.update(`${a}-q`, (cur) => ({ ...cur, done: true }))
  await s.flush()
  await waitFor(async () => !(await todos.get(`${a}-q`)), { timeout: 15000, what: 'q dropped after its ack' })
  // p's write won (it is later than the hub's change): p is back in the subset, with the edit
  await waitFor(async () => (await tasks.get(`${a}-p`))?.title === 'mine', { timeout: 15000, what: 'p written' })
  assert.deepEqual(await todos.get(`${a}-p`), { id: `${a}-p`, team: a, done: false, title: 'mine' })
  assert.equal(await s.pendingCount(), 0)
  // r left the subset while pending: dropped once its write was acknowledged
  await waitFor(async () => !(await todos.get(`${a}-r`)), { timeout: 15000, what: 'r dropped after its ack' })
  assert.equal((await tasks.get(`${a}-r`))?.title, 'also out', 'the write itself went through')
})

test('a reload resumes each subscription from its stored cursor (a catch-up of the changes only)', { timeout: 60000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  const docs = Array.from({ length: 12 }, (_, i) => ({ id: `${a}-${i}`, team: a, n: i }))
  await put(w, tasks, ...docs)
  const idb = new IDBFactory()
  const dbName = 'resume-' + RUN + n
  const first = client({ indexedDB: idb, dbName })
  const h1 = query(subset(first, 'tasks')).where('team', '==', a).sync()
  await h1.ready
  await first.close()

  await put(w, tasks, { id: `${a}-3`, team: a, n: 300 }, { id: `${a}-99`, team: a, n: 99 })
  await tasks.delete(`${a}-5`)
  await w.flush()
  const again = client({ indexedDB: idb, dbName })
  t.after(() => again.close())
  const todos = subset(again, 'tasks')
  const h2 = query(todos).where('team', '==', a).sync()
  const syncs = synced(h2)
  await h2.ready
  // a catch-up (it re-reads a short overlap before the cursor, so its page count proves nothing)
  assert.deepEqual(syncs, [{ mode: 'catchup', reset: false }])
  assert.equal((await todos.getAll()).length, 12)
  assert.equal((await todos.get(`${a}-3`)).n, 300)
  assert.equal(await todos.get(`${a}-5`), undefined, 'the deletion arrived as a removal')
})

test('a filter the hub refuses rejects its handle (4422); the connection and other subscriptions go on', { timeout: 30000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const a = team()
  await put(w, tasks, { id: `${a}-1`, team: a, room: 'R' + a }, { id: `${a}-2`, team: a, room: 'S' + a })
  const s = client()
  t.after(() => s.close())
  const clientErrors = []
  s.addEventListener('error', (e) => clientErrors.push(e.detail))
  const todos = subset(s, 'tasks')
  const bad = query(todos).where('title', '==', 'x').sync()
  const errors = []
  bad.addEventListener('error', (e) => errors.push(e.detail))
  await assert.rejects(bad.ready, (e) => e.code === 4422 && e.kind === 'sub' && /title/.test(e.message))
  assert.equal(errors.length, 1)
  assert.equal(bad.error?.code, 4422)
  assert.deepEqual(clientErrors, [], 'reported on the handle, not as a client error')

  // a named subscription on the same connection
  const room = syncNamed(todos, 'room_tasks', { room: 'R' + a })
  await room.ready
  assert.deepEqual(await ids(todos), [`${a}-1`])
  const missing = syncNamed(todos, 'room_tasks', {})
  await assert.rejects(missing.ready, (e) => e.code === 4422)
  assert.equal(s.status, 'live')
})

test('the first subset of a client that is live already syncs at once (no reconnect needed)', { timeout: 30000 }, async (t) => {
  const { w, tasks } = await writer(t)
  const tm = team()
  await put(w, tasks, { id: `${tm}-1`, team: tm, done: false, n: 1 })
  const a = client({ token: 'late' })
  t.after(() => a.close())
  await waitFor(() => a.status === 'live', { timeout: 15000, what: 'live' })
  // the subscriptions' module saw no `welcome` of this connection
  const st = subset(a, 'tasks')
  const h = query(st).where({ team: tm }).sync()
  await waitFor(() => h.synced, { timeout: 15000, what: 'synced without a reconnect' })
  assert.deepEqual(await ids(st), [`${tm}-1`])
})

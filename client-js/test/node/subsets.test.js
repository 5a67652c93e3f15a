// Query subscriptions against a scripted hub (the cases the real hub does not produce on demand):
// a snapshot that resets a subscription, a removal under a whole-collection subscription, a hub
// ending a subscription, a frame with bad fields, a hub without query subscriptions.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocketServer } from 'ws'
import { encode, decode } from '@msgpack/msgpack'
import { query, subset, syncNamed } from '../../src/query.js'
import { holders } from '../../src/subset-store.js'
import { makeClient, waitFor, record } from '../helpers/util.js'

const enc = (m) => encode(m, { useBigInt64: true, ignoreUndefined: true })

/** A hub that answers `hello` and records frames; the test sends the rest. */
async function scripted(features = ['query']) {
  const wss = new WebSocketServer({ port: 0 })
  await new Promise((r) => wss.once('listening', r))
  const hub = { url: `ws://127.0.0.1:${wss.address().port}/sync`, got: [], ws: null, closes: [] }
  wss.on('connection', (ws) => {
    hub.ws = ws
    ws.on('close', (code) => hub.closes.push(code))
    ws.on('message', (data) => {
      const m = decode(data, { useBigInt64: true })
      hub.got.push(m)
      if (m.t === 'hello') ws.send(enc({ t: 'welcome', v: 1, hub: 'scripted', ping_ms: 60000, max_batch: 50, max_frame: 1 << 20, features }))
    })
  })
  hub.send = (m) => hub.ws.send(enc(m))
  /** The `sub` frames received, latest last. */
  hub.subs = () => hub.got.filter((m) => m.t === 'sub')
  hub.close = () => {
    for (const c of wss.clients) c.terminate()
    return new Promise((r) => wss.close(r))
  }
  return hub
}

const ids = async (coll) => (await coll.getAll()).map((d) => d.id).sort()
const E = 'e1'

test('a reset drops what the subscription held and the new sync did not send, unless another holds it', async (t) => {
  const hub = await scripted()
  const c = makeClient(hub.url)
  t.after(async () => {
    await c.close()
    await hub.close()
  })
  const todos = subset(c, 'todos')
  const h1 = query(todos).where('team', '==', 'x').sync()
  const h2 = query(todos).where('n', '>', 5).sync()
  await waitFor(() => hub.subs().length === 2)
  const [s1, s2] = hub.subs()
  assert.ok(s1.id < 0 && s2.id < 0, 'negative ids: never those of whole-collection subscriptions')
  assert.deepEqual(s1.filter, [['team', '==', 'x']])
  assert.equal(s1.cursor, null)
  hub.send({ t: 'qpage', coll: 'todos', id: s1.id, changes: [['a', 1n, { team: 'x' }], ['b', 2n, { team: 'x', n: 9 }]], done: 2, cursor: [E, 2n] })
  hub.send({ t: 'qsynced', coll: 'todos', id: s1.id, q: 'q1', cursor: [E, 2n], mode: 'snapshot', reset: false })
  hub.send({ t: 'qpage', coll: 'todos', id: s2.id, changes: [['b', 2n, { team: 'x', n: 9 }]], done: 1, cursor: [E, 2n] })
  hub.send({ t: 'qsynced', coll: 'todos', id: s2.id, q: 'q2', cursor: [E, 2n], mode: 'snapshot', reset: false })
  await Promise.all([h1.ready, h2.ready])
  const { store } = await c.ready
  assert.deepEqual(Object.fromEntries(await holders(store, 'todos')), { a: [h1.sub.key], b: [h1.sub.key, h2.sub.key] })

  // the hub restarts s1 as a snapshot with reset: it sends c only
  const resyncs = []
  h1.addEventListener('resync', (e) => resyncs.push(e.detail))
  hub.send({ t: 'qresync', coll: 'todos', id: s1.id, reason: 'retention', mode: 'snapshot' })
  hub.send({ t: 'qpage', coll: 'todos', id: s1.id, changes: [['c', 5n, { team: 'x' }]], done: 1, cursor: [E, 5n] })
  hub.send({ t: 'qsynced', coll: 'todos', id: s1.id, q: 'q1', cursor: [E, 5n], mode: 'snapshot', reset: true })
  await waitFor(async () => (await ids(todos)).join() === 'b,c', { what: 'a dropped, b kept (s2 holds it)' })
  assert.deepEqual(resyncs, [{ reason: 'retention', mode: 'snapshot' }])
  assert.deepEqual(Object.fromEntries(await holders(store, 'todos')), { b: [h2.sub.key], c: [h1.sub.key] })
  assert.equal(c.status, 'live')
  assert.equal(hub.closes.length, 0)
})

test('removals do not drop documents of a collection also synced whole; qchg feeds every subscription of its subset', async (t) => {
  const hub = await scripted()
  const c = makeClient(hub.url)
  t.after(async () => {
    await c.close()
    await hub.close()
  })
  const todos = c.collection('todos') // whole: a `sub` without filter
  const h = query(todos).where({ team: 'x' }).sync()
  await waitFor(() => hub.subs().length === 2)
  const q = hub.subs().find((m) => m.filter)
  const whole = hub.subs().find((m) => !m.filter)
  hub.send({ t: 'synced', coll: 'todos', id: whole.id, cursor: [E, 0n], mode: 'snapshot', reset: false })
  hub.send({ t: 'qpage', coll: 'todos', id: q.id, changes: [['a', 1n, { team: 'x' }]], done: 1, cursor: [E, 1n] })
  hub.send({ t: 'qsynced', coll: 'todos', id: q.id, q: 'qx', cursor: [E, 1n], mode: 'snapshot', reset: false })
  await h.ready
  hub.send({ t: 'qchg', coll: 'todos', q: 'qx', changes: [['a', 2n, null], ['d', 3n, { team: 'x' }]], cursor: [E, 3n] })
  await waitFor(async () => (await ids(todos)).join() === 'a,d', { what: 'd inserted, a kept' })
  // a qchg of another subset is not this subscription's
  hub.send({ t: 'qchg', coll: 'todos', q: 'other', changes: [['z', 4n, { team: 'y' }]], cursor: [E, 4n] })
  hub.send({ t: 'qchg', coll: 'todos', q: 'qx', changes: [['e', 5n, { team: 'x' }]], cursor: [E, 5n] })
  await waitFor(async () => (await ids(todos)).includes('e'))
  assert.deepEqual(await ids(todos), ['a', 'd', 'e'])
})

test('the hub ending a subscription, a frame with bad fields, a hub without query subscriptions', async (t) => {
  const hub = await scripted()
  const c = makeClient(hub.url)
  const errors = record(c, 'error')
  t.after(async () => {
    await c.close()
    await hub.close()
  })
  const todos = subset(c, 'todos')
  const h = syncNamed(todos, 'mine', { room: 'R' })
  await waitFor(() => hub.subs().length === 1)
  const s = hub.subs()[0]
  assert.deepEqual([s.name, s.params, s.filter], ['mine', { room: 'R' }, undefined])
  hub.send({ t: 'unsub', coll: 'todos', id: s.id, code: 4403, msg: 'forbidden' })
  await assert.rejects(h.ready, (e) => e.kind === 'unsub' && e.code === 4403)
  assert.deepEqual(errors, [], 'on the handle only')

  // a qpage whose cursor is not [epoch, ver]: the connection is closed as for any bad frame
  const h2 = query(todos).where('team', '==', 'x').sync()
  await waitFor(() => hub.subs().length === 2)
  hub.send({ t: 'qpage', coll: 'todos', id: hub.subs()[1].id, changes: [['a', 1n, { team: 'x' }]], done: 1, cursor: ['e1'] })
  await waitFor(() => errors.some((e) => e.kind === 'protocol' && e.code === 4001))
  await waitFor(() => hub.subs().length === 3, { what: 're-subscribed on the next connection' })
  assert.deepEqual(await ids(todos), [], 'the bad page was not applied')
  assert.equal(hub.subs()[2].cursor, null)
  void h2

  const old = await scripted([])
  const c2 = makeClient(old.url)
  t.after(async () => {
    await c2.close()
    await old.close()
  })
  const h3 = query(subset(c2, 'todos')).where('team', '==', 'x').sync()
  await assert.rejects(h3.ready, (e) => e.code === 0 && /no query subscriptions/.test(e.message))
  assert.equal(old.got.filter((m) => m.t === 'sub').length, 0)
  assert.throws(() => query(todos).limit(3).sync(), TypeError)
})

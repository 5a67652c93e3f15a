// Against the real hub: the wire contract of docs/protocol.md as the client library relies on it
// (int64 versions as bigint, result fields, error results, replays, ping/pong), and the library's
// handling of error results and of the externally written `metrics` collection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { Encoder, Decoder } from '@msgpack/msgpack'
import { client, RUN, SYNC_URL, waitFor, record } from './helpers.js'

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true })
const decoder = new Decoder({ useBigInt64: true })

/** A raw protocol connection: `send(map)`, `next(pred)` resolves with the first matching frame. */
async function raw(t) {
  const ws = new WebSocket(SYNC_URL)
  ws.binaryType = 'arraybuffer'
  const frames = []
  const waiting = []
  let closed = null
  ws.on('message', (data, isBinary) => {
    assert.ok(isBinary, 'hub frames are binary')
    frames.push(decoder.decode(new Uint8Array(data)))
    flush()
  })
  ws.on('close', (code) => {
    closed = code
    flush()
  })
  function flush() {
    for (const w of [...waiting]) {
      const i = frames.findIndex(w.pred)
      if (i >= 0) {
        waiting.splice(waiting.indexOf(w), 1)
        w.res(frames.splice(i, 1)[0])
      } else if (closed !== null) {
        waiting.splice(waiting.indexOf(w), 1)
        w.rej(new Error(`socket closed (${closed}) while waiting`))
      }
    }
  }
  await new Promise((res, rej) => {
    ws.once('open', res)
    ws.once('error', rej)
  })
  t.after(() => ws.terminate())
  const c = {
    send: (m) => ws.send(encoder.encode(m)),
    next: (pred, ms = 10000) =>
      new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error('timed out waiting for a frame')), ms)
        waiting.push({ pred, res: (v) => (clearTimeout(timer), res(v)), rej: (e) => (clearTimeout(timer), rej(e)) })
        flush()
      }),
  }
  c.send({ t: 'hello', v: [1], client: `raw-${RUN}-${Math.random().toString(36).slice(2)}`, token: 'dev', app: null })
  c.welcome = await c.next((m) => m.t === 'welcome')
  return c
}

const ackOf = (c) => c.next((m) => m.t === 'ack')

test('welcome, ping/pong and a synced cursor with an int64 version', { timeout: 30000 }, async (t) => {
  const c = await raw(t)
  assert.equal(c.welcome.v, 1)
  assert.ok(c.welcome.max_batch >= 1 && c.welcome.ping_ms > 0 && c.welcome.max_frame > 0)
  c.send({ t: 'ping', n: 42 })
  assert.deepEqual(await c.next((m) => m.t === 'pong'), { t: 'pong', n: 42 })

  c.send({ t: 'mut', batch: [{ seq: 1, coll: 'todos', id: `${RUN}-p1`, op: 'put', doc: { id: `${RUN}-p1`, x: 1 }, ts: BigInt(Date.now()) << 16n, base: 0n }] })
  const [r] = (await ackOf(c)).results
  assert.equal(r.s, 'ok')
  assert.equal(typeof r.ver, 'bigint', 'versions above 2^53 arrive as int64 (bigint)')
  assert.ok(r.ver > 2n ** 53n)
  assert.ok(!('doc' in r), 'no doc for ok')

  c.send({ t: 'sub', id: 1, coll: 'todos', cursor: null })
  const synced = await c.next((m) => m.t === 'synced')
  assert.equal(synced.id, 1)
  assert.equal(synced.reset, true)
  assert.equal(synced.mode, 'snapshot')
  assert.equal(typeof synced.cursor[0], 'string')
  assert.equal(typeof synced.cursor[1], 'bigint')
  // the closed watermark read before the snapshot: a real version, possibly just below r.ver
  // (cursors trail the changes by up to a settle, docs/sync-model.md §4)
  assert.ok(synced.cursor[1] > 2n ** 53n)
})

test('results: ok, dup replay, conflict with doc, error without doc (4403, 4404, 4001)', { timeout: 30000 }, async (t) => {
  const c = await raw(t)
  const id = `${RUN}-res`
  const ts = BigInt(Date.now()) << 16n
  const put = { seq: 1, coll: 'todos', id, op: 'put', doc: { id, n: 1 }, ts, base: 0n }
  c.send({ t: 'mut', batch: [put] })
  const [ok] = (await ackOf(c)).results
  assert.equal(ok.s, 'ok')

  // replay with the same seq: original outcome, flagged
  c.send({ t: 'mut', batch: [put] })
  const [dup] = (await ackOf(c)).results
  assert.equal(dup.dup, true)
  assert.equal(dup.s, 'ok')
  assert.equal(dup.ver, ok.ver)

  c.send({
    t: 'mut',
    batch: [
      { seq: 2, coll: 'todos', id, op: 'put', doc: { id, n: 2 }, ts: ts - 1000n, base: ok.ver }, // older clock
      { seq: 3, coll: 'metrics', id: 'cpu', op: 'put', doc: { value: 1 }, ts, base: 0n },
      { seq: 4, coll: `nope-${RUN}`, id, op: 'put', doc: { a: 1 }, ts, base: 0n },
      { seq: 5, coll: 'todos', id, op: 'put', doc: { id: 'other' }, ts, base: 0n },
      { seq: 6, coll: 'todos', id: `${RUN}-res2`, op: 'del', doc: null, ts, base: null },
    ],
  })
  const [conflict, ro, unknown, invalid, del] = (await ackOf(c)).results
  assert.equal(conflict.s, 'conflict')
  assert.deepEqual(conflict.doc, { n: 1 }, 'the server document, without id')
  assert.equal(conflict.ver, ok.ver)
  for (const [res, code] of [[ro, 4403], [unknown, 4404], [invalid, 4001]]) {
    assert.equal(res.s, 'error')
    assert.equal(res.code, code)
    assert.equal(res.ver, 0)
    assert.ok(!('doc' in res), `error result ${code} carries no doc`)
    assert.equal(typeof res.msg, 'string')
  }
  assert.equal(del.s, 'ok')
})

test('a sub of an unknown collection answers error 4404 with ref', { timeout: 30000 }, async (t) => {
  const c = await raw(t)
  c.send({ t: 'sub', id: 7, coll: `nope-${RUN}`, cursor: null })
  const e = await c.next((m) => m.t === 'error')
  assert.equal(e.code, 4404)
  assert.equal(e.ref, 7)
})

test('client: a write to the read-only collection is refused and the synced copy restored', { timeout: 30000 }, async (t) => {
  const a = client()
  t.after(() => a.close())
  const metrics = a.collection('metrics')
  const errors = record(a, 'error')
  await waitFor(async () => (await metrics.get('cpu'))?.value !== undefined, { timeout: 15000, what: 'metrics from the external writer' })
  const before = await metrics.get('cpu')
  await metrics.put({ id: 'cpu', value: -1, unit: 'hacked' })
  await a.flush()
  const failed = errors.filter((e) => e.kind === 'mutation')
  assert.equal(failed.length, 1)
  assert.deepEqual([failed[0].code, failed[0].retry, typeof failed[0].seq], [4403, false, 'number'])
  const after = await metrics.get('cpu')
  assert.notEqual(after.unit, 'hacked', 'local change dropped')
  assert.equal(after.unit, before.unit)
  await metrics.put({ id: `${RUN}-new`, value: 1 })
  await a.flush()
  assert.equal(await metrics.get(`${RUN}-new`), undefined, 'a refused new document disappears')
})

test('client: metrics written outside the hub move live', { timeout: 30000 }, async (t) => {
  const a = client()
  t.after(() => a.close())
  const metrics = a.collection('metrics')
  await waitFor(() => a.status === 'live', { timeout: 15000 })
  const seen = []
  metrics.subscribe((ch) => seen.push(...ch.filter((c) => c.origin === 'remote')))
  await waitFor(() => seen.filter((c) => c.id === 'cpu').length >= 2, { timeout: 15000, what: 'two live cpu updates' })
  const cpu = await metrics.get('cpu')
  assert.equal(cpu.id, 'cpu')
  assert.equal(cpu.unit, '%')
  assert.equal(typeof cpu.value, 'number')
})

test('in-band refresh: auth with the same dev subject is answered authed {exp: nil}', { timeout: 30000 }, async (t) => {
  const c = await raw(t)
  c.send({ t: 'sub', id: 1, coll: 'todos', cursor: null })
  await c.next((m) => m.t === 'synced')
  c.send({ t: 'auth', token: 'dev' })
  assert.deepEqual(await c.next((m) => m.t === 'authed' || m.t === 'error' || m.t === 'unsub'), { t: 'authed', exp: null })
  // the subscription is untouched: live changes still flow
  const id = `${RUN}-authed`
  c.send({ t: 'mut', batch: [{ seq: 1, coll: 'todos', id, op: 'put', doc: { id, x: 1 }, ts: BigInt(Date.now()) << 16n, base: 0n }] })
  const chg = await c.next((m) => m.t === 'chg' && m.changes.some(([cid]) => cid === id))
  assert.equal(chg.coll, 'todos')
})

// Batched messages (docs/protocol.md "Batches"): the client asks for them in `hello`, and a
// message holding a msgpack array is handled as its frames one after the other. The transport is
// driven directly through a scripted WebSocket; the last test goes through a client and the fake hub.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode } from '@msgpack/msgpack'
import { openSocket, DEFAULT_LIMITS } from '../../src/transport-ws.js'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record } from '../helpers/util.js'

/** A WebSocket stand-in: the test delivers messages; `closed` records the client's close. */
class ScriptedWS {
  /** @type {ScriptedWS | null} */
  static last = null
  /** @param {string} url */
  constructor(url) {
    this.url = url
    this.binaryType = 'blob'
    /** @type {[number, string] | null} */
    this.closed = null
    /** @type {any} */
    this.onmessage = null
    ScriptedWS.last = this
  }
  send() {}
  /** @param {number} code @param {string} reason */
  close(code, reason) {
    this.closed = [code, reason]
  }
  /** @param {unknown} value */
  deliver(value) {
    const b = encode(value, { useBigInt64: true })
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) })
  }
}

function open() {
  const got = /** @type {any[]} */ ([])
  const violations = /** @type {any[]} */ ([])
  const closes = /** @type {any[]} */ ([])
  openSocket(/** @type {any} */ (ScriptedWS), 'ws://x/sync', DEFAULT_LIMITS, {
    open() {},
    message: (m) => got.push(m),
    violation: (e) => violations.push(e),
    close: (code, reason, byClient) => closes.push([code, byClient]),
  })
  return { ws: /** @type {ScriptedWS} */ (ScriptedWS.last), got, violations, closes }
}

const chg = (/** @type {string} */ id, /** @type {number} */ ver) => ({ t: 'chg', coll: 'c', changes: [[id, ver, { v: ver }]], cursor: ['e', ver] })

test('a batch yields its frames in order, each checked and normalised as if it came alone', () => {
  const { ws, got, violations, closes } = open()
  ws.deliver([chg('a', 1), { t: 'ping', n: 7 }, chg('b', 2), { t: 'ack', results: [{ seq: 1, s: 'ok', ver: 3 }] }])
  assert.deepEqual(
    got.map((m) => [m.t, m.changes?.[0][0] ?? m.n ?? m.results?.[0].seq]),
    [['chg', 'a'], ['ping', 7], ['chg', 'b'], ['ack', 1]],
  )
  assert.deepEqual(got[2].changes, [['b', 2n, { v: 2, id: 'b' }]])
  // a single frame still comes alone, on the same socket
  ws.deliver(chg('c', 4))
  assert.deepEqual(got.map((m) => m.t).length, 5)
  assert.equal(got[4].changes[0][0], 'c')
  assert.deepEqual([violations, closes, ws.closed], [[], [], null])
})

const BAD = [
  ['an array nested in a batch', [chg('a', 1), [chg('b', 2)], chg('c', 3)], 4000],
  ['a nested empty array', [chg('a', 1), []], 4000],
  ['a string element', [chg('a', 1), 'chg', chg('c', 3)], 4000],
  ['a number element', [chg('a', 1), 5], 4000],
  ['a nil element', [null, chg('a', 1)], 4000],
  ['a map that breaks a message rule', [chg('a', 1), { t: 'chg', coll: 'c', changes: [['', 2, null]], cursor: ['e', 2] }, chg('c', 3)], 4001],
  ['a frame of unknown type', [chg('a', 1), { t: 'nope' }, chg('c', 3)], 4004],
]

for (const [name, batch, code] of BAD) {
  test(`a batch with ${name} closes with ${code} and applies nothing after it`, () => {
    const { ws, got, violations, closes } = open()
    ws.deliver(batch)
    assert.equal(violations.length, 1)
    assert.equal(violations[0].code, code)
    assert.deepEqual(closes, [[code, true]])
    assert.equal(ws.closed?.[0], code)
    // frames before the bad one may be applied (each message stands alone); none after it
    assert.ok(got.every((m) => m.changes[0][0] === 'a'), JSON.stringify(got.map((m) => m.t)))
    // the socket is done: later messages are dropped
    ws.deliver([chg('z', 9)])
    assert.ok(!got.some((m) => m.changes[0][0] === 'z'))
  })
}

test('the client lists "batch" in hello.features and stores what a batch carries', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  const notes = client.collection('notes')
  await waitFor(() => client.status === 'live')
  const hello = hub.received.find((m) => m.t === 'hello')
  assert.deepEqual(hello.features, ['batch'])
  // a burst of live changes in one message, two collections interleaved and a document changed
  // twice: each change lands in its own collection, the later version wins
  const c = (/** @type {string} */ coll, /** @type {string} */ id, /** @type {bigint} */ ver) => ({ t: 'chg', coll, changes: [[id, ver, { n: Number(ver) }]], cursor: [hub.epoch, ver] })
  hub.sendRawAll(encode([c('todos', 'x', 10n), c('notes', 'y', 11n), c('todos', 'x', 12n), c('todos', 'z', 13n), c('notes', 'w', 14n)], { useBigInt64: true }))
  await waitFor(async () => (await notes.get('w')) !== undefined, { what: 'batched changes' })
  assert.deepEqual((await todos.getAll()).map((d) => [d.id, d.n]).sort(), [['x', 12], ['z', 13]])
  assert.deepEqual((await notes.getAll()).map((d) => [d.id, d.n]).sort(), [['w', 14], ['y', 11]])
  assert.deepEqual(errors, [])
  assert.equal(hub.connections, 1)
})

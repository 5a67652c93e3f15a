// Every decoder limit against complete frames (the body really present, valid msgpack): one value
// at the limit is decoded and the connection stays; one past it closes the socket with a protocol
// error (4000, or 4009 for the frame size), leaves the store untouched, and the client reconnects.
// (The "hostile frame" tests of faults.test.js cover frames that only *declare* huge lengths.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode, ExtData } from '@msgpack/msgpack'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record } from '../helpers/util.js'

const N = 1000
// the client's limits, and the hub's document limits (welcome widens the decoder to those: equal here)
const LIMITS = { maxFrame: 64 * 1024, maxStrLength: N, maxBinLength: N, maxArrayLength: N, maxMapLength: N, maxExtLength: 16 }
const DOC_LIMITS = { bytes: N, entries: N, depth: 16 }

/** A `pong` (its extra field is ignored once decoded) carrying `pad`. */
const pong = (pad) => encode({ t: 'pong', n: 1, pad }, { useBigInt64: true })
const map = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => ['k' + i, 0]))

const CASES = [
  ['string (maxStrLength)', (n) => 'x'.repeat(n), N, 4000],
  ['binary (maxBinLength)', (n) => new Uint8Array(n), N, 4000],
  ['array (maxArrayLength)', (n) => new Array(n).fill(0), N, 4000],
  ['map (maxMapLength)', (n) => map(n), N, 4000],
  ['extension (maxExtLength)', (n) => new ExtData(7, new Uint8Array(n)), 16, 4000],
]

for (const [name, make, limit, code] of CASES) {
  test(`decoder limit, ${name}: a complete value at the limit is read, one past it closes with ${code}`, async (t) => {
    const hub = await startFakeHub({ docLimits: DOC_LIMITS })
    t.after(() => hub.close())
    hub.write('todos', 'keep', { v: 1 })
    const client = makeClient(hub.url, { limits: LIMITS })
    t.after(() => client.close())
    const errors = record(client, 'error')
    const todos = client.collection('todos')
    await waitFor(() => client.status === 'live')
    const before = await todos.getAll()
    assert.equal(before.length, 1)

    hub.sendRawAll(pong(make(limit)))
    // the connection survives it: a later change on the same socket still applies
    hub.write('todos', 'after-at-limit', { v: 2 })
    await waitFor(async () => (await todos.get('after-at-limit')) !== undefined, { what: 'change after the at-limit frame' })
    assert.deepEqual(errors, [])
    assert.equal(hub.connections, 1)

    hub.sendRawAll(pong(make(limit + 1)))
    await waitFor(() => errors.length === 1, { what: 'protocol error' })
    assert.equal(errors[0].kind, 'protocol')
    assert.equal(errors[0].code, code)
    await waitFor(() => hub.connections === 2 && client.status === 'live', { what: 'reconnect' })
    assert.deepEqual((await todos.getAll()).map((d) => d.id).sort(), ['after-at-limit', 'keep'])
  })
}

test('decoder limit, frame size (maxFrame): a frame of exactly maxFrame bytes is read, one byte more closes with 4009', async (t) => {
  const hub = await startFakeHub({ docLimits: DOC_LIMITS })
  t.after(() => hub.close())
  // values may be as long as a frame here: only the frame limit is in play
  const client = makeClient(hub.url, { limits: { ...LIMITS, maxStrLength: LIMITS.maxFrame } })
  t.after(() => client.close())
  const errors = record(client, 'error')
  await waitFor(() => client.status === 'live')
  /** A pong padded with a string to exactly `bytes` bytes (a str16 header throughout). */
  const frame = (bytes) => {
    const out = pong('x'.repeat(bytes - (pong('x'.repeat(1000)).byteLength - 1000)))
    assert.equal(out.byteLength, bytes)
    return out
  }
  hub.sendRawAll(frame(LIMITS.maxFrame))
  hub.write('todos', 'after-at-limit', { v: 1 })
  const todos = client.collection('todos')
  await waitFor(async () => (await todos.get('after-at-limit')) !== undefined, { what: 'change after the at-limit frame' })
  assert.deepEqual(errors, [])
  assert.equal(hub.connections, 1)
  hub.sendRawAll(frame(LIMITS.maxFrame + 1))
  await waitFor(() => errors.length === 1, { what: 'protocol error' })
  assert.deepEqual([errors[0].kind, errors[0].code], ['protocol', 4009])
  await waitFor(() => hub.connections === 2 && client.status === 'live', { what: 'reconnect' })
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseServerMessage, ProtocolViolation, plainInts } from '../../src/core/messages.js'

const code = (fn) => {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof ProtocolViolation)
    return e.code
  }
  assert.fail('no violation')
}

test('welcome, chg and ack are normalised', () => {
  assert.deepEqual(parseServerMessage({ t: 'welcome', v: 1, hub: 'h', ping_ms: 100, max_batch: 10, max_frame: 1000, extra: 1 }), {
    t: 'welcome', v: 1, hub: 'h', ping_ms: 100, max_batch: 10, max_frame: 1000, user: undefined, doc_limits: { bytes: 262144, entries: 10000, depth: 16 }, features: undefined,
  })
  // `user`: who the hub authenticated; null when anonymous, undefined from an older hub
  const welcome = { t: 'welcome', v: 1, hub: 'h', ping_ms: 100, max_batch: 10, max_frame: 1000 }
  assert.equal(/** @type {any} */ (parseServerMessage({ ...welcome, user: 'alice' })).user, 'alice')
  assert.equal(/** @type {any} */ (parseServerMessage({ ...welcome, user: null })).user, null)
  assert.equal(code(() => parseServerMessage({ ...welcome, user: 7 })), 4001)
  const page = { t: 'page', coll: 'c', id: 1, changes: [], done: 0, total: null }
  assert.equal(/** @type {any} */ (parseServerMessage(page)).cursor, null)
  assert.deepEqual(/** @type {any} */ (parseServerMessage({ ...page, cursor: ['e', 3] })).cursor, ['e', 3n])
  const lim = { bytes: 1, entries: 2, depth: 3 }
  assert.deepEqual(parseServerMessage({ t: 'welcome', v: 1, hub: 'h', ping_ms: 1, max_batch: 1, max_frame: 1, doc_limits: lim }).doc_limits, lim)
  const chg = parseServerMessage({ t: 'chg', coll: 'c', changes: [['a', 5, { x: 1n }], ['b', 2n ** 60n, null]], cursor: ['e', 7] })
  assert.deepEqual(chg.changes, [['a', 5n, { x: 1, id: 'a' }], ['b', 2n ** 60n, null]])
  assert.deepEqual(chg.cursor, ['e', 7n])
  const ack = parseServerMessage({ t: 'ack', results: [{ seq: 1, s: 'ok', ver: 9 }, { seq: 2, s: 'conflict', ver: 9, doc: { a: 1 } }] })
  assert.equal(ack.results[0].doc, undefined)
  assert.deepEqual(ack.results[1].doc, { a: 1 })
})

test('violations carry close codes', () => {
  assert.equal(code(() => parseServerMessage([1, 2])), 4000)
  assert.equal(code(() => parseServerMessage('x')), 4000)
  assert.equal(code(() => parseServerMessage({ t: 'nope' })), 4004)
  // room frames go to the rooms (presence.js checks them); without a room they are unknown
  assert.deepEqual(parseServerMessage({ t: 'joined', room: 'r', member: {} }), { t: 'joined', room: 'r', member: {} })
  assert.equal(code(() => parseServerMessage({ t: 'joined' })), 4004)
  assert.equal(code(() => parseServerMessage({})), 4004)
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [[1, 2, null]], cursor: ['e', 1] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [['', 2, null]], cursor: ['e', 1] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [['a', 2, 'str']], cursor: ['e', 1] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [], cursor: ['e'] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'ack', results: [{ seq: 1, s: 'maybe', ver: 1 }] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'synced', coll: 'c', id: 1, cursor: ['e', 1], mode: 'x', reset: 1 })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'ping', n: 1.5 })), 4001)
})

test('plainInts keeps unsafe bigints, converts safe ones', () => {
  assert.deepEqual(plainInts({ a: [1n, 2n ** 60n], b: { c: -5n } }), { a: [1, 2n ** 60n], b: { c: -5 } })
})

test('authed and unsub (in-band refresh)', () => {
  assert.deepEqual(parseServerMessage({ t: 'authed', exp: 1700000000 }), { t: 'authed', exp: 1700000000 })
  assert.deepEqual(parseServerMessage({ t: 'authed', exp: 1700000000n }), { t: 'authed', exp: 1700000000 })
  assert.deepEqual(parseServerMessage({ t: 'authed', exp: null }), { t: 'authed', exp: null })
  assert.deepEqual(parseServerMessage({ t: 'authed' }), { t: 'authed', exp: null })
  assert.deepEqual(parseServerMessage({ t: 'unsub', coll: 'c', id: 3, code: 4403, msg: 'forbidden' }), {
    t: 'unsub',
    coll: 'c',
    id: 3,
    code: 4403,
    msg: 'forbidden',
  })
  for (const bad of [{ t: 'authed', exp: 'soon' }, { t: 'unsub', coll: 'c', id: 1 }, { t: 'unsub', id: 1, code: 4403 }]) {
    assert.throws(() => parseServerMessage(bad), (e) => e instanceof ProtocolViolation && e.code === 4001)
  }
})

test('values a hub never sends: versions out of int64 >= 0, ping_ms <= 0, extension values as maps (found by the frame fuzzer)', () => {
  const chg = (ver, cursor = ['e', 1]) => ({ t: 'chg', coll: 'c', changes: [['a', ver, null]], cursor })
  for (const v of [-1, -5n, 2n ** 63n, 2n ** 64n - 1n]) {
    assert.equal(code(() => parseServerMessage(chg(v))), 4001, String(v))
    assert.equal(code(() => parseServerMessage(chg(1, ['e', v]))), 4001, String(v))
    assert.equal(code(() => parseServerMessage({ t: 'ack', results: [{ seq: 1, s: 'ok', ver: v }] })), 4001, String(v))
  }
  assert.deepEqual(/** @type {any} */ (parseServerMessage(chg(2n ** 63n - 1n))).changes[0][1], 2n ** 63n - 1n)
  const welcome = { t: 'welcome', v: 1, hub: 'h', ping_ms: 100, max_batch: 10, max_frame: 1000 }
  assert.equal(code(() => parseServerMessage({ ...welcome, ping_ms: 0 })), 4001)
  assert.equal(code(() => parseServerMessage({ ...welcome, ping_ms: -1 })), 4001)
  // an integral float beyond 2^53 is no int: echoed in a pong, the hub would refuse it
  assert.equal(code(() => parseServerMessage({ t: 'ping', n: 2 ** 53 + 2 })), 4001)
  assert.equal(code(() => parseServerMessage({ ...welcome, max_batch: 1e300 })), 4001)
  // a batch is read from the outbox at once (IndexedDB counts are below 2^32)
  assert.equal(/** @type {any} */ (parseServerMessage({ ...welcome, max_batch: 2 ** 32 })).max_batch, 10000)
  assert.equal(/** @type {any} */ (parseServerMessage({ ...welcome, max_batch: 0 })).max_batch, 1)
  class ExtData {
    type = 1
    data = new Uint8Array(2)
  }
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [['a', 1, new ExtData()]], cursor: ['e', 1] })), 4001)
  assert.equal(code(() => parseServerMessage({ t: 'chg', coll: 'c', changes: [['a', 1, new Date()]], cursor: ['e', 1] })), 4001)
  assert.equal(code(() => parseServerMessage(new ExtData())), 4000)
})

test('a document beyond the limits followed becomes the placeholder a conforming hub sends', () => {
  const fit = { limits: { bytes: 100, entries: 3, depth: 2 }, size: (/** @type {object} */ d) => JSON.stringify(d).length }
  const one = (/** @type {unknown} */ doc) => /** @type {any} */ (parseServerMessage({ t: 'chg', coll: 'c', changes: [['a', 1, doc]], cursor: ['e', 1] }, fit)).changes[0][2]
  assert.deepEqual(one({ x: 1, y: [1, 2] }), { x: 1, y: [1, 2], id: 'a' })
  assert.deepEqual(one({ x: [1, 2, 3, 4] }), { $oversize: { reason: 'entries', limit: 3, size: 4 }, id: 'a' })
  assert.deepEqual(one({ x: { y: { z: 1 } } }), { $oversize: { reason: 'depth', limit: 2, size: 3 }, id: 'a' })
  assert.deepEqual(one({ s: 'x'.repeat(200) }), { $oversize: { reason: 'bytes', limit: 100, size: 208 }, id: 'a' })
  // results too
  const ack = parseServerMessage({ t: 'ack', results: [{ seq: 1, s: 'conflict', ver: 2, doc: { x: [1, 2, 3, 4] } }] }, fit)
  assert.deepEqual(ack.results[0].doc, { $oversize: { reason: 'entries', limit: 3, size: 4 } })
  // nesting far beyond the stack: no recursion before the depth check
  let deep = /** @type {any} */ ({ x: 1 })
  for (let i = 0; i < 200000; i++) deep = { d: deep }
  assert.equal(one(deep).$oversize.reason, 'depth')
})

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
    t: 'welcome', v: 1, hub: 'h', ping_ms: 100, max_batch: 10, max_frame: 1000, user: undefined, doc_limits: { bytes: 262144, entries: 10000, depth: 16 },
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

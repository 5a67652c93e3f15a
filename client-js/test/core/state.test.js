import { test } from 'node:test'
import assert from 'node:assert/strict'
import { canTransition, closeAction, sessionStatus } from '../../src/core/state.js'
import { mergeCursor } from '../../src/core/cursor.js'

test('status transitions', () => {
  assert.ok(canTransition('offline', 'connecting'))
  assert.ok(canTransition('connecting', 'syncing'))
  assert.ok(canTransition('syncing', 'live'))
  assert.ok(canTransition('live', 'syncing'))
  assert.ok(canTransition('live', 'offline'))
  assert.ok(!canTransition('offline', 'live'))
  assert.ok(!canTransition('connecting', 'live'))
  for (const from of ['connecting', 'syncing', 'live']) assert.ok(canTransition(from, 'unauthorized'))
  assert.ok(canTransition('unauthorized', 'connecting'), 'reconnect()')
  assert.ok(!canTransition('offline', 'unauthorized'))
  assert.ok(!canTransition('unauthorized', 'live'))
  for (const from of ['connecting', 'syncing', 'live']) assert.ok(canTransition(from, 'paused'))
  assert.ok(canTransition('paused', 'connecting'), 'reconnect() or the pause timer')
  assert.ok(!canTransition('paused', 'live'))
})

test('session status from welcome and running syncs', () => {
  assert.equal(sessionStatus(false, 0), 'connecting')
  assert.equal(sessionStatus(true, 2), 'syncing')
  assert.equal(sessionStatus(true, 0), 'live')
})

test('close codes: 4010 unauthorized, other 4000-4499 stop, 4500 now, others back off', () => {
  assert.equal(closeAction(4010), 'unauthorized')
  for (const c of [4000, 4001, 4004, 4009, 4011, 4499]) assert.equal(closeAction(c), 'stop')
  assert.equal(closeAction(4500), 'now')
  for (const c of [4503, 4508, 4510, 4511, 4529, 4531, 4532, 4999, 1000, 1001, 1006, 1011]) {
    assert.equal(closeAction(c), 'retry')
  }
  for (const c of [4030, 4403]) assert.equal(closeAction(c), 'stop')
})

test('cursors: max within an epoch, replaced across epochs', () => {
  assert.deepEqual(mergeCursor(null, ['a', 5n]), ['a', 5n])
  assert.deepEqual(mergeCursor(['a', 9n], ['a', 5n]), ['a', 9n])
  assert.deepEqual(mergeCursor(['a', 3n], ['a', 5n]), ['a', 5n])
  assert.deepEqual(mergeCursor(['a', 9n], ['b', 1n]), ['b', 1n])
})

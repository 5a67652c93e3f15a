import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hlcNext, hlcObserve, hlcMs } from '../../src/core/hlc.js'

test('follows the wall clock in the hub format', () => {
  const t = hlcNext(0n, 1000)
  assert.equal(t, 1000n << 16n)
  assert.equal(hlcMs(t), 1000)
})

test('strictly increasing even when the wall clock stalls or goes back', () => {
  let t = hlcNext(0n, 5000)
  const a = hlcNext(t, 5000)
  const b = hlcNext(a, 4000)
  assert.ok(a > t && b > a)
  assert.equal(hlcMs(b), 5000)
  t = hlcNext(b, 6000)
  assert.equal(t, 6000n << 16n)
})

test('observing a newer remote version moves the clock past it', () => {
  const remote = (9000n << 16n) | 7n
  const t = hlcObserve(hlcNext(0n, 1000), remote)
  assert.equal(t, remote)
  assert.ok(hlcNext(t, 1000) > remote)
  assert.equal(hlcObserve(remote + 5n, remote), remote + 5n)
})

test('a remote version more than a century ahead of the wall clock is not followed (found by the frame fuzzer)', () => {
  const now = 1.7e12
  const t = hlcNext(0n, now)
  assert.equal(hlcObserve(t, 2n ** 63n - 1n, now), t)
  const ahead = BigInt(now + 365 * 864e5) << 16n // a year ahead: followed
  assert.equal(hlcObserve(t, ahead, now), ahead)
  assert.equal(hlcObserve(t, 2n ** 63n - 1n), 2n ** 63n - 1n, 'without a wall clock, no limit')
})

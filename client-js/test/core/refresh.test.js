import { test } from 'node:test'
import assert from 'node:assert/strict'
import { jwtExp, refreshDelay, refreshRetryDelay, REFRESH_MARGIN, REFRESH_MIN } from '../../src/core/refresh.js'
import { fakeJwt } from '../helpers/fake-hub.js'

const T = 1_700_000_000 // Unix seconds
const NOW = T * 1000

test('jwtExp reads the exp claim without verifying; anything else is null', () => {
  assert.equal(jwtExp(fakeJwt({ sub: 'a', exp: T })), T)
  // base64url alphabet (- and _) and missing padding
  const claims = { sub: '~~~?>>>', exp: T + 1, n: 'é' }
  assert.equal(jwtExp(fakeJwt(claims)), T + 1)
  assert.equal(jwtExp(fakeJwt({ sub: 'a' })), null)
  assert.equal(jwtExp(fakeJwt({ exp: String(T) })), null)
  assert.equal(jwtExp(fakeJwt({ exp: -5 })), null)
  for (const t of [null, undefined, '', 'dev', 'a.b', 'a.!!!.c', 'a.b.c.d', `x.${Buffer.from('[1]').toString('base64url')}.y`]) {
    assert.equal(jwtExp(t), null, String(t))
  }
})

test('refreshDelay: 60 s before a long-lived token expires, plus up to 50 % jitter', () => {
  const hour = T + 3600
  assert.equal(refreshDelay(hour, NOW, () => 0), 3600_000 - REFRESH_MARGIN)
  assert.equal(refreshDelay(hour, NOW, () => 0.999999), Math.floor(3600_000 - REFRESH_MARGIN * 1.4999995))
  for (let i = 0; i < 200; i++) {
    const d = refreshDelay(hour, NOW, Math.random)
    assert.ok(d >= 3600_000 - 90_000 && d <= 3600_000 - 60_000, String(d))
  }
})

test('refreshDelay: short remaining lifetimes keep 10 % (to 15 %) of it', () => {
  assert.equal(refreshDelay(T + 300, NOW, () => 0), 270_000)
  assert.equal(refreshDelay(T + 300, NOW, () => 0.5), 262_500)
  assert.equal(refreshDelay(T + 10, NOW, () => 0), 9000)
  // measured from now, not from when the token was minted
  assert.equal(refreshDelay(T + 300, NOW + 200_000, () => 0), 90_000)
})

test('refreshDelay: never sooner than REFRESH_MIN, null when that is too late or there is no expiry', () => {
  assert.equal(refreshDelay(T + 1, NOW - 100, () => 0), REFRESH_MIN) // 1.1 s left
  assert.equal(refreshDelay(T + 1, NOW, () => 0), null) // exactly 1 s left
  assert.equal(refreshDelay(T, NOW, () => 0), null) // expired by our clock
  assert.equal(refreshDelay(T - 60, NOW, () => 0), null)
  assert.equal(refreshDelay(null, NOW, () => 0), null)
})

test('refreshRetryDelay: backoff while the old token is valid, then give up', () => {
  const top = () => 0.999999
  assert.equal(refreshRetryDelay(0, T + 3600, NOW, 500, 20000, top), 999)
  assert.equal(refreshRetryDelay(2, T + 3600, NOW, 500, 20000, top), 3999)
  assert.equal(refreshRetryDelay(50, T + 3600, NOW, 500, 20000, top), 19999)
  assert.equal(refreshRetryDelay(3, T + 3600, NOW, 500, 20000, () => 0), 500, 'at least min')
  assert.equal(refreshRetryDelay(2, T + 3, NOW, 500, 20000, top), null, 'would land after expiry')
  assert.equal(refreshRetryDelay(0, T + 3, NOW, 500, 20000, top), 999)
  assert.equal(refreshRetryDelay(0, T, NOW, 500, 20000, top), null)
  assert.equal(refreshRetryDelay(0, null, NOW, 500, 20000, top), null, 'no expiry: no hurry, no retry')
})

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoff, pauseDelay } from '../../src/core/backoff.js'

test('ceiling doubles per step and is capped', () => {
  const top = () => 0.999999
  assert.equal(backoff(0, 500, 20000, top), 499)
  assert.equal(backoff(1, 500, 20000, top), 999)
  assert.equal(backoff(3, 500, 20000, top), 3999)
  assert.equal(backoff(10, 500, 20000, top), 19999)
  assert.equal(backoff(1e6, 500, 20000, top), 19999)
})

test('full jitter: anywhere from 0 below the ceiling', () => {
  assert.equal(backoff(5, 500, 20000, () => 0), 0)
  assert.equal(backoff(2, 100, 20000, () => 0.5), 200)
  for (let i = 0; i < 200; i++) {
    const d = backoff(4, 500, 20000, Math.random)
    assert.ok(d >= 0 && d < 8000)
  }
})

test('negative steps behave like step 0', () => {
  assert.equal(backoff(-3, 500, 20000, () => 0.5), 250)
})

test('pauseDelay (quota): never below max, growing to 31 x max', () => {
  assert.equal(pauseDelay(0, 20000, () => 0), 20000)
  assert.equal(pauseDelay(0, 20000, () => 0.999999), 20000 + 19999)
  assert.equal(pauseDelay(3, 20000, () => 0.999999), 20000 + 159999)
  assert.equal(pauseDelay(50, 20000, () => 0.999999), 20000 + 599999)
})

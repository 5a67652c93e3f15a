import { test } from 'node:test'
import assert from 'node:assert/strict'
import { syncError, verdict, retryLater, storeError, tokenOutcome, stopError, UnauthorizedError } from '../../src/core/errors.js'

test('verdict: ok and dup are applied; error carries code and message; other statuses the server doc', () => {
  const e = { seq: 3, c: 'todos', id: 'a', op: 'put', doc: { id: 'a' }, ts: 1n, base: 0n, dep: false }
  assert.deepEqual(verdict(e, { seq: 3, s: 'ok', ver: 7n, doc: undefined }), { seq: 3, coll: 'todos', id: 'a', status: 'applied', ver: 7n })
  assert.deepEqual(verdict(e, { seq: 3, s: 'dup', ver: 9n, doc: { id: 'a', x: 1 } }), {
    seq: 3, coll: 'todos', id: 'a', status: 'applied', ver: 9n, serverDoc: { id: 'a', x: 1 },
  })
  assert.deepEqual(verdict(e, { seq: 3, s: 'rejected', ver: 9n, doc: null }), { seq: 3, coll: 'todos', id: 'a', status: 'rejected', ver: 9n, serverDoc: null })
  assert.deepEqual(verdict(e, { seq: 3, s: 'error', ver: 0n, doc: undefined, code: 4413, msg: 'too big' }), {
    seq: 3, coll: 'todos', id: 'a', status: 'error', ver: 0n, code: 4413, message: 'too big',
  })
})

test('syncError: one shape; an exception becomes message and cause', () => {
  const boom = new RangeError('boom')
  assert.deepEqual(syncError('store', 0, boom, true), { kind: 'store', code: 0, message: 'boom', retry: true, fatal: false, cause: boom })
  assert.deepEqual(syncError('closed', 4003, 'forbidden', false, { fatal: true }), { kind: 'closed', code: 4003, message: 'forbidden', retry: false, fatal: true })
})

test('retryLater: only error results with a code of 4500 and above', () => {
  const r = (s, code) => ({ seq: 1, s, ver: 0n, doc: undefined, code })
  assert.deepEqual([r('error', 4504), r('error', 4999), r('error', 4500), r('error', 4413), r('ok'), r('error')].map(retryLater), [true, true, true, false, false, false])
})

test('storeError: quota for QuotaExceededError, store otherwise', () => {
  const q = new DOMException('full', 'QuotaExceededError')
  assert.deepEqual(storeError(q, false), { kind: 'quota', code: 0, message: 'full', retry: false, fatal: false, cause: q })
  assert.equal(storeError(new Error('closed'), true).kind, 'store')
  assert.equal(storeError('gone', true).message, 'gone')
  // Chromium's QuotaExceededError at commit has an empty message: the error's name stands in
  const bare = new DOMException('', 'QuotaExceededError')
  assert.equal(storeError(bare, true).message, 'QuotaExceededError')
})

test('tokenOutcome: a non-empty string is the token; nothing or a throw retries; UnauthorizedError stops', () => {
  assert.equal(tokenOutcome('t1'), 't1')
  for (const v of [null, undefined, '', 42]) {
    const e = /** @type {any} */ (tokenOutcome(v))
    assert.equal(e.kind, 'token')
    assert.equal(e.retry, true)
    assert.equal(e.fatal, false)
  }
  const boom = new Error('backend down')
  assert.deepEqual(tokenOutcome(null, boom), { kind: 'token', code: 0, message: 'backend down', retry: true, fatal: false, cause: boom })
  const out = new UnauthorizedError('signed out')
  assert.deepEqual(tokenOutcome(null, out), { kind: 'unauthorized', code: 0, message: 'signed out', retry: false, fatal: true, cause: out })
  // by name, so a second copy of the package (another realm) is recognised too
  const alike = Object.assign(new Error('x'), { name: 'UnauthorizedError' })
  assert.equal(/** @type {any} */ (tokenOutcome(null, alike)).kind, 'unauthorized')
})

test('stopError: UnauthorizedError for unauthorized, an Error otherwise; the SyncError is the cause', () => {
  const u = syncError('unauthorized', 4010, 'rejected', false, { fatal: true })
  const e1 = stopError(u)
  assert.ok(e1 instanceof UnauthorizedError)
  assert.equal(e1.name, 'UnauthorizedError')
  assert.equal(e1.message, 'rejected')
  assert.equal(e1.cause, u)
  const c = syncError('closed', 4003, 'expected hello', false, { fatal: true })
  const e2 = stopError(c)
  assert.ok(!(e2 instanceof UnauthorizedError))
  assert.equal(e2.message, 'expected hello')
  assert.equal(e2.cause, c)
})

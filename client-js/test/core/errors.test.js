import { test } from 'node:test'
import assert from 'node:assert/strict'
import { syncError, verdict, retryLater, storeError } from '../../src/core/errors.js'

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
})

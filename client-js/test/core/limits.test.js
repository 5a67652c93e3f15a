import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DOC_LIMITS, docOver, docProblem } from '../../src/core/limits.js'

test('docProblem names the limit a document breaks, or returns an empty string', () => {
  assert.equal(docProblem({ a: [1, { b: new Uint8Array(3) }], d: new Date() }, 40, DOC_LIMITS), '')
  assert.equal(docProblem({ a: 1 }, DOC_LIMITS.bytes + 1, DOC_LIMITS), `${DOC_LIMITS.bytes + 1} bytes, limit ${DOC_LIMITS.bytes}`)
  assert.equal(docProblem({ l: new Array(10001).fill(1) }, 10, DOC_LIMITS), '10001 entries, limit 10000')
  let deep = { x: 1 }
  for (let i = 0; i < 15; i++) deep = { d: deep }
  assert.equal(docProblem(deep, 10, DOC_LIMITS), '')
  assert.equal(docProblem({ d: deep }, 10, DOC_LIMITS), 'depth 17, limit 16')
  assert.equal(docProblem({ $oversize: {} }, 10, DOC_LIMITS), 'field $oversize is reserved')
})

test('docOver: the first limit broken, as the hub reports it; the size is measured only above a cheap bound', () => {
  let asked = 0
  const size = () => (asked++, 1e6)
  assert.equal(docOver({ a: 'x'.repeat(100) }, size, DOC_LIMITS), null)
  assert.equal(asked, 0)
  assert.deepEqual(docOver({ a: 'x'.repeat(100000) }, size, DOC_LIMITS), { reason: 'bytes', limit: DOC_LIMITS.bytes, size: 1e6 })
  assert.equal(asked, 1)
  assert.deepEqual(docOver({ l: new Array(10001).fill(1) }, size, DOC_LIMITS), { reason: 'entries', limit: 10000, size: 10001 })
  assert.deepEqual(docOver({ a: { b: 1 } }, 10, { ...DOC_LIMITS, depth: 1 }), { reason: 'depth', limit: 1, size: 2 })
})

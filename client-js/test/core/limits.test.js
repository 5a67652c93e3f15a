import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DOC_LIMITS, docProblem } from '../../src/core/limits.js'

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

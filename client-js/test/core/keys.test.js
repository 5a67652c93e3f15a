import { test } from 'node:test'
import assert from 'node:assert/strict'
import { docKey, docTag, collBounds, cursorKey } from '../../src/core/keys.js'

test('docTag: one string per document, distinct documents never share one', () => {
  assert.equal(docTag('a', 'b'), docTag('a', 'b'))
  assert.notEqual(docTag('a\0b', 'c'), docTag('a', 'b\0c'))
  assert.notEqual(docTag('a', 'bc'), docTag('ab', 'c'))
})

test('version 1 keys: [c, id] for documents, cur:<c> for cursors', () => {
  assert.deepEqual(docKey('todos', 'a'), ['todos', 'a'])
  assert.deepEqual(collBounds('todos'), [['todos'], ['todos', []]])
  assert.equal(cursorKey('todos'), 'cur:todos')
})

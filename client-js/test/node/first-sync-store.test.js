// A first sync's pages are added without reading each document first (`applyRemote(..., fresh)`):
// the records, the cursor and the changes reported must be exactly those of the reading path,
// also when a document of the page is held already (a local write made during the sync), which
// fails its `add` and makes the page apply again, reading.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IDBFactory } from '../helpers/util.js'
import { openStore, req } from '../../src/store.js'

const page = () => [
  ['a', 1n, { id: 'a', n: 1 }],
  ['b', 2n, { id: 'b', n: 2 }],
  ['c', 3n, null], // a tombstone: stored, not shown
]

async function records(store) {
  const tx = store.db.transaction(['docs', 'meta'], 'readonly')
  return {
    docs: await req(tx.objectStore('docs').getAll()),
    cursor: await req(tx.objectStore('meta').get('cur:todos')),
  }
}

async function applied(fresh, localWrite) {
  const store = await openStore(new IDBFactory(), 'db', () => {})
  if (localWrite) await store.write([{ c: 'todos', id: 'b', doc: { id: 'b', local: true } }], (ts) => ts + 1n)
  const out = await store.applyRemote('todos', page(), ['e1', 3n], fresh)
  const second = await store.applyRemote('todos', [['d', 4n, { id: 'd' }]], ['e1', 4n], fresh)
  return { out, second, ...(await records(store)) }
}

test('a fresh page is stored as the reading path stores it', async () => {
  const fresh = await applied(true, false)
  assert.deepEqual(fresh, await applied(false, false))
  assert.deepEqual(fresh.out.map((c) => [c.type, c.id]), [['put', 'a'], ['put', 'b']])
  assert.deepEqual(fresh.cursor, ['e1', 4n])
  assert.deepEqual(fresh.docs.map((r) => [r.id, r.ver, r.pend, r.doc?.n ?? null]), [['a', 1n, 0, 1], ['b', 2n, 0, 2], ['c', 3n, 0, null], ['d', 4n, 0, null]])
})

test('a document held already (a pending local write) keeps its view: the page applies again, reading', async () => {
  const fresh = await applied(true, true)
  assert.deepEqual(fresh, await applied(false, true))
  const b = fresh.docs.find((r) => r.id === 'b')
  // the local write stays in view, the hub's document is its server state
  assert.deepEqual([b.doc, b.pend, b.ver, b.srv], [{ id: 'b', local: true }, 1, 2n, { id: 'b', n: 2 }])
  assert.deepEqual(fresh.out.map((c) => c.id), ['a'])
})

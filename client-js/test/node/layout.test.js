// The on-disk layout of version 1 databases, written here by hand with literals (as clients
// before `core/keys.js` wrote it), must still be read and extended by the store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IDBFactory } from '../helpers/util.js'
import { openStore, req } from '../../src/store.js'

async function legacyDb(factory, name) {
  const r = factory.open(name, 1)
  r.onupgradeneeded = () => {
    const db = r.result
    db.createObjectStore('docs', { keyPath: ['c', 'id'] })
    db.createObjectStore('outbox', { keyPath: 'seq' }).createIndex('doc', ['c', 'id'])
    db.createObjectStore('meta')
  }
  const db = await req(r)
  const tx = db.transaction(['docs', 'outbox', 'meta'], 'readwrite')
  tx.objectStore('docs').put({ c: 'todos', id: 'a', doc: { id: 'a', v: 1 }, ver: 3n, pend: 1, srv: { id: 'a', v: 0 } })
  tx.objectStore('docs').put({ c: 'todos', id: 'b', doc: { id: 'b' }, ver: 2n, pend: 0, srv: null })
  tx.objectStore('docs').put({ c: 'todosx', id: 'c', doc: { id: 'c' }, ver: 2n, pend: 0, srv: null })
  tx.objectStore('outbox').put({ seq: 7, c: 'todos', id: 'a', op: 'put', doc: { id: 'a', v: 1 }, ts: 9n, base: 3n, dep: false })
  tx.objectStore('meta').put({ seq: 7, ts: 9n }, 'clock')
  tx.objectStore('meta').put('client-1', 'client')
  tx.objectStore('meta').put(['e1', 5n], 'cur:todos')
  await new Promise((res) => (tx.oncomplete = res))
  db.close()
}

test('a version 1 database written before core/keys.js is read and extended', async () => {
  const factory = new IDBFactory()
  await legacyDb(factory, 'old')
  const store = await openStore(factory, 'old', () => {})
  assert.equal(await store.clientId(), 'client-1')
  assert.deepEqual(await store.get('todos', 'a'), { id: 'a', v: 1 })
  assert.deepEqual((await store.getAll('todos')).map((d) => d.id), ['a', 'b'])
  assert.deepEqual((await store.syncStart('todos')).cursor, ['e1', 5n])
  assert.deepEqual((await store.readOutbox(0, 10)).map((e) => e.seq), [7])
  // a second write of `a` continues the clock and is dependent on the pending one
  await store.write([{ c: 'todos', id: 'a', doc: { id: 'a', v: 2 } }], (ts) => ts + 1n)
  const out = await store.readOutbox(0)
  assert.deepEqual(out.map((e) => [e.seq, e.ts, e.dep]), [[7, 9n, false], [8, 10n, true]])
  // its ack gives the next entry its base through the outbox's `doc` index
  await store.applyAcks([{ seq: 7, s: 'ok', ver: 4n, doc: undefined }])
  assert.deepEqual((await store.readOutbox(0)).map((e) => [e.seq, e.base, e.dep]), [[8, 4n, false]])
  store.close()
})

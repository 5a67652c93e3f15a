// Options: the platform grouped under `env`; the 0.1 top-level forms still read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { SyncClient } from '../../src/index.js'
import { IDBFactory } from '../helpers/util.js'

const base = { url: 'ws://127.0.0.1:9/sync', dbName: 'opts', backoffMin: 10 }
const quiet = { WebSocket, locks: null, BroadcastChannel: null, events: null, document: null }

test('env supplies the platform; it wins over the top-level (0.1) forms, which still work', async () => {
  const a = new IDBFactory()
  const b = new IDBFactory()
  const now = () => 42
  const c1 = new SyncClient({ ...base, env: { ...quiet, indexedDB: a, now } })
  const c2 = new SyncClient(/** @type {any} */ ({ ...base, ...quiet, indexedDB: a, env: { indexedDB: b } }))
  const c3 = new SyncClient(/** @type {any} */ ({ ...base, ...quiet, indexedDB: a }))
  try {
    assert.equal(c1.o.indexedDB, a)
    assert.equal(c1.o.now, now)
    assert.equal(c1.o.backoffMin, 10)
    assert.equal(c2.o.indexedDB, b)
    assert.equal(c3.o.indexedDB, a)
    assert.equal(c3.o.locks, null)
    await Promise.all([c1, c2, c3].map((c) => c.ready))
    assert.deepEqual((await a.databases()).map((d) => d.name), ['opts'])
    assert.deepEqual((await b.databases()).map((d) => d.name), ['opts'])
  } finally {
    await Promise.all([c1, c2, c3].map((c) => c.close()))
  }
})

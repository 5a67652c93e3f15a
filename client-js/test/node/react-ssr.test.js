// The React hooks rendered on a server (react-dom/server, no DOM, no IndexedDB): each gives its
// value before anything was read instead of failing for want of a server snapshot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createElement as h } from 'react'
import { renderToString } from 'react-dom/server'
import { SyncClient } from '../../src/index.js'
import { query } from '../../src/query.js'
import { useLiveQuery, useLiveSnapshot, useDoc, useSyncStatus, usePendingWrites } from '../../src/react.js'

test('server rendering: no documents (loading), no document read yet, offline, no pending writes', async () => {
  // as on a server: no IndexedDB, no WebSocket, no locks; the client cannot open and stays offline
  const client = new SyncClient({ url: 'ws://127.0.0.1:9/sync', token: 'dev', env: { indexedDB: /** @type {any} */ (null), WebSocket: /** @type {any} */ (null), locks: null, BroadcastChannel: null, events: null, document: null } })
  client.addEventListener('error', () => {})
  const todos = client.collection('todos')
  function App() {
    const q = query(todos).where('done', '==', false).orderBy('id')
    const docs = useLiveQuery(q)
    const snap = useLiveSnapshot(q)
    const doc = useDoc(todos, 'a')
    const status = useSyncStatus(client)
    const pending = usePendingWrites(client)
    return h('p', null, [docs.length, snap.loading, snap.fromCache, doc === undefined ? 'reading' : 'read', status, pending.length].join(' '))
  }
  assert.equal(renderToString(h(App)), '<p>0 true true reading offline 0</p>')
  await client.close()
})

// One browser, several users: each user's documents, cursors and outbox live in a database of its
// own, and a client never syncs a database under another user's identity.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory, fakeLocks } from '../helpers/util.js'

const OFFLINE = 'ws://127.0.0.1:9/sync'

/** A fake hub whose dev-style tokens are the user names. */
async function hubOfUsers(t) {
  const hub = await startFakeHub()
  hub.userOf = (token) => token
  t.after(() => hub.close())
  return hub
}

/** Ids of the documents the hub applied mutations to for client id `client`. */
const mutsOf = (hub, client) => hub.applies.filter(([c]) => c === client).map(([, id]) => id)

test("user A's offline writes are never sent by user B's client, and are sent when A is back", async (t) => {
  const hub = await hubOfUsers(t)
  const idb = new IDBFactory()
  const alice = makeClient(OFFLINE, { indexedDB: idb, user: 'alice', token: 'alice' })
  await alice.collection('todos').put({ id: 'a1', by: 'alice' })
  const aliceId = (await alice.ready).clientId
  await alice.close()

  const bob = makeClient(hub.url, { indexedDB: idb, user: 'bob', token: 'bob' })
  t.after(() => bob.close())
  const todos = bob.collection('todos')
  await waitFor(() => bob.status === 'live', { what: 'bob live' })
  assert.equal(await bob.pendingCount(), 0, "bob's outbox is his own")
  assert.equal(await todos.get('a1'), undefined, "alice's document is not in bob's store")
  await todos.put({ id: 'b1', by: 'bob' })
  await bob.flush()
  const bobId = (await bob.ready).clientId
  assert.notEqual(bobId, aliceId)
  assert.deepEqual(mutsOf(hub, bobId), ['b1'])
  assert.equal(hub.get('todos', 'a1'), undefined)

  const back = makeClient(hub.url, { indexedDB: idb, user: 'alice', token: 'alice' })
  t.after(() => back.close())
  back.collection('todos')
  assert.equal((await back.ready).clientId, aliceId)
  await back.flush()
  assert.deepEqual(mutsOf(hub, aliceId), ['a1'])
  assert.deepEqual(hub.get('todos', 'a1').doc, { id: 'a1', by: 'alice' })
  // and it reaches bob through the hub, as any shared document does
  await waitFor(async () => (await todos.get('a1'))?.by === 'alice', { what: 'a1 at bob, live' })
})

test('a hub that authenticates another user: nothing is sent, the data stays, the error says why', async (t) => {
  const hub = await hubOfUsers(t)
  const idb = new IDBFactory()
  const offline = makeClient(OFFLINE, { indexedDB: idb, user: 'alice', token: 'alice' })
  await offline.collection('todos').put({ id: 'a1', v: 1 })
  await offline.close()

  let token = 'bob' // e.g. the app's token cache still holds the previous user's token
  const alice = makeClient(hub.url, { indexedDB: idb, user: 'alice', token: async () => token })
  t.after(() => alice.close())
  const errors = record(alice, 'error')
  alice.collection('todos')
  await waitFor(() => errors.length > 0, { what: 'error' })
  assert.deepEqual(errors[0], { kind: 'user-mismatch', code: 0, message: 'the hub authenticated another user', retry: false, user: 'bob', fatal: true })
  await waitFor(() => alice.status === 'offline', { what: 'offline' })
  assert.deepEqual(hub.received.map((m) => m.t), ['hello'], 'no sub, no mut')
  assert.equal(await alice.pendingCount(), 1)
  assert.deepEqual(await alice.collection('todos').get('a1'), { id: 'a1', v: 1 })

  token = 'alice'
  alice.reconnect()
  await alice.flush()
  assert.deepEqual(hub.get('todos', 'a1').doc, { id: 'a1', v: 1 })
})

test('an anonymous session does not sync a named user\'s database; a client without `user` is not checked', async (t) => {
  const hub = await hubOfUsers(t)
  hub.userOf = () => null
  const named = makeClient(hub.url, { user: 'alice', token: 'x' })
  t.after(() => named.close())
  const errors = record(named, 'error')
  named.collection('todos')
  await waitFor(() => errors.some((e) => e.kind === 'user-mismatch'), { what: 'user-mismatch' })

  const unnamed = makeClient(hub.url, { token: 'x' })
  t.after(() => unnamed.close())
  unnamed.collection('todos')
  await waitFor(() => unnamed.status === 'live', { what: 'live without user' })
})

test('tabs of different users each hold their own connection; tabs of one user share one', async (t) => {
  const hub = await hubOfUsers(t)
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'tabs-' + Math.random() }
  const tabs = [
    makeClient(hub.url, { ...shared, user: 'alice', token: 'alice' }),
    makeClient(hub.url, { ...shared, user: 'alice', token: 'alice' }),
    makeClient(hub.url, { ...shared, user: 'bob', token: 'bob' }),
  ]
  t.after(() => Promise.all(tabs.map((c) => c.close())))
  for (const c of tabs) c.collection('todos')
  await waitFor(() => tabs.every((c) => c.status === 'live'), { what: 'all live' })
  assert.deepEqual(tabs.map((c) => c.leader), [true, false, true])
  assert.equal(hub.connections, 2)
  // a write in alice's second tab goes out through alice's connection, not bob's
  await tabs[1].collection('todos').put({ id: 'a2' })
  await tabs[1].flush()
  assert.deepEqual(mutsOf(hub, (await tabs[0].ready).clientId), ['a2'])
  assert.deepEqual(mutsOf(hub, (await tabs[2].ready).clientId), [])
})

// Auth and lifecycle against the fake hub: a failing token function is retried (never a connection
// without its token), `UnauthorizedError` and a hub 4010 stop sync as `unauthorized` until
// `reconnect()`, `flush()` rejects while sync is stopped, and tabs share the leader's true status
// and forward `reconnect()` to it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor, record, IDBFactory, fakeLocks, sleep } from '../helpers/util.js'
import { UnauthorizedError } from '../../src/index.js'

const hellos = (hub) => hub.received.filter((m) => m.t === 'hello')

/** A flush that is already waiting; resolves with what it settled with. */
function flushing(client) {
  return client.flush().then(
    () => 'resolved',
    (e) => e
  )
}

test('a failing token function (throws, rejects, null, empty) is retried with backoff; no connection without a token', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const fails = [
    () => {
      throw new Error('backend down')
    },
    () => Promise.reject(new Error('rejected')),
    async () => null,
    async () => '',
  ]
  let calls = 0
  const client = makeClient(hub.url, { token: () => (calls < fails.length ? fails[calls++]() : (calls++, Promise.resolve('dev'))) })
  t.after(() => client.close())
  const errors = record(client, 'error')
  const statuses = record(client, 'status')
  client.collection('todos')
  await client.collection('todos').put({ id: 'a' })
  await waitFor(() => client.status === 'live', { what: 'live once the token function works' })
  assert.equal(calls, 5)
  assert.deepEqual(
    errors.map((e) => [e.kind, e.message, e.retry, e.fatal]),
    [
      ['token', 'backend down', true, false],
      ['token', 'rejected', true, false],
      ['token', 'no token', true, false],
      ['token', 'no token', true, false],
    ]
  )
  assert.ok(errors[0].cause instanceof Error)
  assert.deepEqual(hellos(hub).map((h) => h.token), ['dev'], 'one connection, with the token')
  assert.equal(statuses.filter((s) => s.newStatus === 'connecting').length, 5, 'one attempt per call')
  await client.flush()
})

test('UnauthorizedError from the token function: unauthorized, no connection, flush rejects, reconnect() resumes', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  let signedIn = false
  const client = makeClient(hub.url, {
    token: async () => {
      if (!signedIn) throw new UnauthorizedError('signed out')
      return 'dev'
    },
  })
  t.after(() => client.close())
  const errors = record(client, 'error')
  const todos = client.collection('todos')
  // writes still work locally; flush cannot finish and says so
  const w = await todos.put({ id: 'offline-edit' })
  const waiting = flushing(client)
  await waitFor(() => client.status === 'unauthorized', { what: 'unauthorized' })
  assert.equal(errors.length, 1)
  assert.equal(errors[0].kind, 'unauthorized')
  assert.equal(errors[0].fatal, true)
  assert.equal(errors[0].retry, false)
  assert.equal(errors[0].message, 'signed out')
  const rejected = await waiting
  assert.ok(rejected instanceof UnauthorizedError, 'the waiting flush rejects')
  assert.equal(rejected.cause.kind, 'unauthorized')
  await assert.rejects(client.flush(), UnauthorizedError)
  await sleep(100)
  assert.equal(hub.connections, 0, 'never connected')
  assert.equal(errors.length, 1, 'no retries')

  signedIn = true
  client.reconnect()
  await waitFor(() => client.status === 'live', { what: 'live after reconnect()' })
  await client.flush()
  assert.equal((await w.result).status, 'applied', 'the write made while signed out is sent after sign-in')
  assert.deepEqual(hellos(hub).map((h) => h.token), ['dev'])
})

test('a hub 4010 ends in unauthorized (no retries, flush rejects); the next token works after reconnect()', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.acceptTokens = ['good']
  let token = 'stale'
  let calls = 0
  const client = makeClient(hub.url, { token: async () => (calls++, token) })
  t.after(() => client.close())
  const errors = record(client, 'error')
  const statuses = record(client, 'status')
  await client.collection('todos').put({ id: 'w' })
  const waiting = flushing(client)
  await waitFor(() => client.status === 'unauthorized', { what: 'unauthorized' })
  assert.deepEqual(statuses.at(-1), { oldStatus: 'connecting', newStatus: 'unauthorized' })
  assert.deepEqual(
    errors.map((e) => [e.kind, e.code, e.fatal]),
    [['unauthorized', 4010, true]]
  )
  assert.ok((await waiting) instanceof UnauthorizedError)
  await sleep(100)
  assert.equal(calls, 1, 'no retry after 4010')
  assert.equal(hub.connections, 1)

  token = 'good'
  client.reconnect()
  await waitFor(() => client.status === 'live', { what: 'live with the new token' })
  await client.flush()
  assert.deepEqual(hellos(hub).map((h) => h.token), ['stale', 'good'])

  // a 4010 on a live connection (e.g. subject changed) also stops as unauthorized
  const again = flushing(client)
  await client.collection('todos').put({ id: 'x' })
  hub.holdAcks = true
  hub.closeAll(4010, 'subject_changed')
  await waitFor(() => client.status === 'unauthorized')
  assert.equal(errors.at(-1).message, 'subject_changed')
  assert.ok((await again) instanceof UnauthorizedError)
})

test('an in-band refresh whose token function throws UnauthorizedError stops sync and closes the socket', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  let signedIn = true
  const client = makeClient(hub.url, {
    token: async () => {
      if (!signedIn) throw new UnauthorizedError()
      return 'dev'
    },
  })
  t.after(() => client.close())
  const errors = record(client, 'error')
  client.collection('todos')
  await waitFor(() => client.status === 'live')
  signedIn = false
  assert.equal(await client.refreshToken(), false)
  assert.equal(client.status, 'unauthorized')
  assert.deepEqual(
    errors.map((e) => [e.kind, e.message, e.fatal]),
    [['unauthorized', 'unauthorized', true]]
  )
  await waitFor(() => hub.conns.size === 0, { what: 'socket closed' })
  assert.equal(hellos(hub).length, 1)
  signedIn = true
  client.reconnect()
  await waitFor(() => client.status === 'live')
})

test('flush() rejects when sync stops on a fatal close (also calls already waiting), and when closed', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  const todos = client.collection('todos')
  await waitFor(() => client.status === 'live')
  hub.holdAcks = true
  await todos.put({ id: 'a' })
  const waiting = flushing(client)
  hub.closeAll(4003, 'expected hello')
  const e = await waiting
  assert.ok(e instanceof Error && !(e instanceof UnauthorizedError))
  assert.equal(e.cause.kind, 'closed')
  assert.equal(e.cause.code, 4003)
  assert.equal(client.status, 'offline')
  hub.holdAcks = false
  client.reconnect()
  await client.flush()
  assert.deepEqual(hub.docs('todos').map((d) => d.id), ['a'])
  hub.holdAcks = true
  await todos.put({ id: 'b' })
  const later = flushing(client)
  await client.close()
  assert.match(String(await later), /closed/)
  await assert.rejects(client.flush(), /closed/)
})

test('tabs: every tab shows the leader status (also one opened later), unauthorized included; a follower forwards reconnect()', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  hub.acceptTokens = ['t1']
  let token = 't1'
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'life-' + Math.random(), token: async () => token }
  const a = makeClient(hub.url, shared)
  t.after(() => a.close())
  a.collection('todos')
  await waitFor(() => a.status === 'live', { what: 'leader live' })
  const b = makeClient(hub.url, shared)
  t.after(() => b.close())
  await waitFor(() => b.status === 'live', { what: 'a tab opened later sees live' })
  assert.equal(b.leader, false)

  // the hub stops taking the token: every tab is unauthorized, a follower's flush rejects
  hub.acceptTokens = ['t2']
  await b.collection('todos').put({ id: 'fromB' })
  hub.holdAcks = true
  const waiting = flushing(b)
  hub.closeAll(4010, 'unauthorized')
  await waitFor(() => a.status === 'unauthorized' && b.status === 'unauthorized', { what: 'both unauthorized' })
  assert.ok((await waiting) instanceof UnauthorizedError)
  await assert.rejects(b.flush(), UnauthorizedError)
  const c = makeClient(hub.url, shared)
  t.after(() => c.close())
  await waitFor(() => c.status === 'unauthorized', { what: 'a new tab sees unauthorized' })
  await assert.rejects(c.flush(), UnauthorizedError)

  // the app signs in again in the follower tab: reconnect() goes to the leader
  token = 't2'
  hub.holdAcks = false
  b.reconnect()
  await waitFor(() => a.status === 'live' && b.status === 'live' && c.status === 'live', { what: 'all live again' })
  await b.flush()
  await c.flush()
  assert.deepEqual(hub.docs('todos').map((d) => d.id), ['fromB'])
  assert.equal(hub.connections, 2)

  // the leader closes: the tab still following shows offline until another tab has connected
  const seen = new Map([b, c].map((x) => [x, record(x, 'status')]))
  await a.close()
  await waitFor(() => (b.leader || c.leader) && b.status === 'live' && c.status === 'live', { what: 'a follower took over' })
  const follower = b.leader ? c : b
  assert.equal(seen.get(follower)[0].newStatus, 'offline')
})

test('tabs: the stop reason reaches followers even when its cause cannot be posted', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  let signedIn = true
  // an app-made "UnauthorizedError" that structured clone refuses (it holds a function)
  const token = async () => {
    if (signedIn) return 'dev'
    throw { name: 'UnauthorizedError', message: 'signed out', retry: () => {} }
  }
  const shared = { indexedDB: new IDBFactory(), locks: fakeLocks(), BroadcastChannel, dbName: 'life-' + Math.random(), token }
  const a = makeClient(hub.url, shared)
  t.after(() => a.close())
  a.collection('todos')
  await waitFor(() => a.status === 'live')
  const b = makeClient(hub.url, shared)
  t.after(() => b.close())
  const errorsB = record(b, 'error')
  await waitFor(() => b.status === 'live')
  signedIn = false
  await a.refreshToken()
  await waitFor(() => b.status === 'unauthorized', { what: 'follower unauthorized' })
  assert.deepEqual(
    errorsB.map((e) => [e.kind, e.message, e.cause]),
    [['unauthorized', 'signed out', undefined]]
  )
  await assert.rejects(b.flush(), (e) => e instanceof UnauthorizedError && e.message === 'signed out')
})

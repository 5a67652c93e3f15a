// Against the real hub (dev auth: any token is its own subject, no expiry): the in-band refresh
// handshake. Expiry, refusals, unsub and auth resyncs need a JWT-configured hub; the fake-hub
// suite (test/node/refresh.test.js) covers them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { client, trackingWebSocket, waitFor, RUN } from './helpers.js'
import { UnauthorizedError } from '../../src/index.js'

test('refreshToken(): auth -> authed on the same socket, session carries on', { timeout: 30000 }, async (t) => {
  const tracked = trackingWebSocket()
  let calls = 0
  const c = client({ WebSocket: tracked.WebSocket, token: async () => (calls++, 'dev') })
  t.after(() => c.close())
  const todos = c.collection('todos')
  await waitFor(() => c.status === 'live', { what: 'live', timeout: 20000 })
  assert.equal(calls, 1)
  assert.equal(c.syncer?.exp, null, "a dev token is not a JWT: no expiry known, no refresh planned")

  assert.equal(await c.refreshToken(), true, 'the hub answered authed')
  assert.equal(calls, 2)
  assert.equal(tracked.sockets.length, 1, 'no reconnect')
  assert.equal(c.syncer?.exp, null, 'dev auth: authed.exp is nil')
  assert.equal(c.status, 'live')

  const id = `${RUN}-refresh`
  await todos.put({ id, n: 1 })
  await c.flush()
  assert.equal(tracked.sockets.length, 1)
})

test('a token the hub refuses (4010 subject_changed): unauthorized, flush rejects, the next token works after reconnect()', { timeout: 30000 }, async (t) => {
  const tracked = trackingWebSocket()
  const me = `${RUN}-alice`
  let token = me
  const c = client({ WebSocket: tracked.WebSocket, token: async () => token })
  t.after(() => c.close())
  const errors = []
  c.addEventListener('error', (e) => errors.push(e.detail))
  const todos = c.collection('todos')
  await waitFor(() => c.status === 'live', { what: 'live', timeout: 20000 })

  // the app hands out someone else's token: the hub closes 4010 and sync stops, no retries
  token = `${RUN}-mallory`
  assert.equal(await c.refreshToken(), false)
  await waitFor(() => c.status === 'unauthorized', { what: 'unauthorized' })
  assert.deepEqual(
    errors.map((e) => [e.kind, e.code, e.message, e.fatal]),
    [['unauthorized', 4010, 'subject_changed', true]]
  )
  const id = `${RUN}-after-4010`
  const w = await todos.put({ id, n: 1 })
  await assert.rejects(c.flush(), UnauthorizedError)
  assert.equal(tracked.sockets.length, 1, 'no reconnect by itself')

  // signed in again: reconnect() resumes and the write made meanwhile reaches the hub
  token = me
  c.reconnect()
  await waitFor(() => c.status === 'live', { what: 'live again', timeout: 20000 })
  await c.flush()
  assert.equal((await w.result).status, 'applied')
  assert.equal(tracked.sockets.length, 2)
})

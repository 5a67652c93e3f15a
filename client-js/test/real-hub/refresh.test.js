// Against the real hub (dev auth: any token is its own subject, no expiry): the in-band refresh
// handshake. Expiry, refusals, unsub and auth resyncs need a JWT-configured hub; the fake-hub
// suite (test/node/refresh.test.js) covers them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { client, trackingWebSocket, waitFor, RUN } from './helpers.js'

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

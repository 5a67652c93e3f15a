// Rooms against the fake hub, which serves none (its `welcome` lists no features): the `error`
// event with code 0, for a room made before the connection and for one made on the live
// connection, and no room frame sent. Rooms on a real hub: test/real-hub/presence.test.js.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { room } from '../../src/presence.js'
import { startFakeHub } from '../helpers/fake-hub.js'
import { makeClient, waitFor } from '../helpers/util.js'

test('a hub without rooms: error code 0 for rooms made before and after the connection, nothing sent', async (t) => {
  const hub = await startFakeHub()
  t.after(() => hub.close())
  const client = makeClient(hub.url)
  t.after(() => client.close())
  const errors = []
  const early = room(client, 'early').join({ n: 1 })
  early.addEventListener('error', (e) => errors.push(['early', e.detail.code]))
  await waitFor(() => client.status === 'live', { what: 'live' })
  await waitFor(() => errors.length === 1, { what: 'error of the early room' })
  const late = room(client, 'late')
  late.addEventListener('error', (e) => errors.push(['late', e.detail.code]))
  late.join({ n: 2 })
  assert.deepEqual(errors, [['early', 0], ['late', 0]])
  assert.equal(late.broadcast('x'), false)
  assert.deepEqual(hub.received.filter((m) => ['join', 'pupdate', 'leave', 'bcast'].includes(m.t)), [])
})

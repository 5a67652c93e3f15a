// Against the real hub: rooms through `synchub-client/presence` (members, state updates,
// broadcasts, rejoin after a dropped connection without a leave at the others).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { room } from '../../src/presence.js'
import { client, RUN, trackingWebSocket, waitFor } from './helpers.js'

/** The room's events of `type`, as `[member id, state]` (or the message). */
function record(r, type) {
  const out = []
  r.addEventListener(type, (e) => out.push(e.detail.member ? [e.detail.member.id, e.detail.member.state] : e.detail))
  return out
}

test('members, updates and broadcasts between two clients; rejoin after a dropped socket', { timeout: 60000 }, async (t) => {
  const tw = trackingWebSocket()
  const a = client({ token: 'alice', WebSocket: tw.WebSocket })
  const b = client({ token: 'bob' })
  const c = client({ token: 'carol' })
  t.after(() => Promise.all([a.close(), b.close(), c.close()]))
  const name = `${RUN}-room`
  const ra = room(a, name)
  const rb = room(b, name)
  const rc = room(c, `${RUN}-elsewhere`).join(null)
  const joins = record(ra, 'join')
  const leaves = record(rb, 'leave')
  const updates = record(ra, 'update')
  const messages = record(rb, 'message')
  const elsewhere = record(rc, 'message')

  ra.join({ cursor: 1 })
  rb.join({ cursor: 2 })
  await waitFor(() => ra.members.length === 2 && rb.members.length === 2, { timeout: 15000, what: 'both listed' })
  assert.deepEqual(ra.members.map((m) => m.user).sort(), ['alice', 'bob'])
  assert.deepEqual(joins.map(([, s]) => s).sort((x, y) => x.cursor - y.cursor), [{ cursor: 1 }, { cursor: 2 }])

  rb.update({ cursor: 3 })
  await waitFor(() => updates.some(([, s]) => s.cursor === 3), { timeout: 10000, what: 'update seen' })

  assert.equal(ra.broadcast({ typing: true }), true)
  await waitFor(() => messages.length === 1, { timeout: 10000, what: 'broadcast' })
  assert.equal(messages[0].user, 'alice')
  assert.deepEqual(messages[0].msg, { typing: true })

  // a's connection dies; the client reconnects and joins again within the grace period
  const before = tw.sockets.length
  tw.sockets.at(-1).terminate()
  await waitFor(() => tw.sockets.length > before && a.status === 'live', { timeout: 15000, what: 'reconnected' })
  ra.update({ cursor: 9 })
  const seenByB = () => rb.members.find((m) => m.user === 'alice')?.state?.cursor === 9
  await waitFor(seenByB, { timeout: 10000, what: 'state after the rejoin' })
  assert.deepEqual(leaves, [], 'no leave while a reconnected')
  assert.deepEqual(elsewhere, [], 'a broadcast reaches only its room')

  ra.leave()
  await waitFor(() => leaves.length === 1, { timeout: 10000, what: 'leave' })
  assert.equal(rb.members.length, 1)
})

test('a room the hub refuses reports an error event', { timeout: 30000 }, async (t) => {
  const a = client({ token: 'alice' })
  t.after(() => a.close())
  const r = room(a, `${RUN}-big`).join({ blob: 'x'.repeat(10000) })
  const errors = []
  r.addEventListener('error', (e) => errors.push(e.detail))
  await waitFor(() => errors.length === 1, { timeout: 15000, what: 'error' })
  assert.equal(errors[0].code, 4413)
})

test('a room made once the client is live joins at once, also as the client\'s first room', { timeout: 30000 }, async (t) => {
  const a = client({ token: 'alice' })
  const b = client({ token: 'bob' })
  t.after(() => Promise.all([a.close(), b.close()]))
  room(b, `${RUN}-early`) // b's rooms saw the connection's `welcome`, a's did not
  await waitFor(() => a.status === 'live' && b.status === 'live', { timeout: 15000, what: 'both live' })
  const name = `${RUN}-late`
  const ra = room(a, name).join({ n: 1 })
  const rb = room(b, name).join({ n: 2 })
  await waitFor(() => ra.members.length === 2 && rb.members.length === 2, { timeout: 15000, what: 'both listed' })
  assert.deepEqual(rb.members.map((m) => [m.user, m.state]).sort(), [['alice', { n: 1 }], ['bob', { n: 2 }]])
})

// Rooms across two hubs, one end in Chromium: the demo page, connected to hub B (SYNCHUB_URL_B),
// and a Node client (fake-indexeddb) on hub A (SYNCHUB_URL), both on one Ignite node. Joins with
// state and member lists, a state update, broadcasts (to the others only), leave(), the demo's "who
// is online" across hubs, and a page closed without leaving, which the other sees leave once hub B's
// grace period (SYNCHUB_B_GRACE_MS, short in that hub's config) has passed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { room } from '../../src/presence.js'
import { makeClient } from '../helpers/util.js'
import { BASE, launch } from './helpers.js'

const BASE_B = process.env.SYNCHUB_URL_B?.replace(/\/+$/, '')
const GRACE_MS = Number(process.env.SYNCHUB_B_GRACE_MS)
assert.ok(BASE_B, 'SYNCHUB_URL_B must be the http base URL of a second hub on the same Ignite and caches')
assert.ok(GRACE_MS > 0, 'SYNCHUB_B_GRACE_MS must be the [rooms] grace_ms of the hub at SYNCHUB_URL_B')

const RUN = 'rm' + Date.now().toString(36)

/** @param {() => unknown | Promise<unknown>} fn @param {string | (() => string)} what */
async function until(fn, what, timeout = 20000) {
  const end = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out: ' + (typeof what === 'function' ? what() : what))
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * A room's events as plain records: `{type, id, user, state, members}` (members: their users,
 * sorted) for join/leave/update, `{type, from, user, msg}` for message, `{type, code}` for error.
 * Also the source of the page's recorder (it runs there through `toString`).
 * @param {EventTarget} r @param {object[]} out
 */
function recordRoom(r, out) {
  for (const type of ['join', 'leave', 'update', 'message', 'error'])
    r.addEventListener(type, (e) => {
      const d = /** @type {CustomEvent} */ (e).detail
      if (type === 'message') out.push({ type, from: d.from, user: d.user, msg: d.msg })
      else if (type === 'error') out.push({ type, code: d.code, msg: d.msg })
      else out.push({ type, id: d.member.id, user: d.member.user, state: d.member.state, members: d.members.map((m) => m.user).sort() })
    })
}

test('a room across two hubs with a page in Chromium: joins, update, broadcasts, leave, page closed', { timeout: 120000 }, async (t) => {
  const name = `${RUN}-R`
  const nodeUser = `node-${RUN}`
  const node = makeClient(BASE.replace(/^http/, 'ws') + '/sync', { dbName: 'rooms-' + RUN, token: nodeUser, backoffMin: 50, backoffMax: 1000 })
  t.after(() => node.close())

  const browser = await launch()
  t.after(() => browser.close())
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  // the demo, served by hub B and connected to it; its client also holds the demo's lobby room
  await page.goto(BASE_B + '/')
  await page.waitForFunction(() => globalThis.synchub?.client.status === 'live', null, { timeout: 20000 })
  const me = await page.textContent('#me')
  const pageEvents = () => page.evaluate(() => globalThis.R.events)
  await page.evaluate(
    async ({ name, recorder }) => {
      // the module the demo imported (same URL through its import map): one set of rooms per client
      const { room } = await import('/src/presence.js')
      const events = []
      const r = room(globalThis.synchub.client, name)
      ;(0, eval)(`(${recorder})`)(r, events)
      globalThis.R = { room: r, events }
      r.join({ who: 'page', cursor: 1 })
    },
    { name, recorder: recordRoom.toString() }
  )

  // both join: each sees the other's join with its state, and both members
  const nodeEvents = []
  const nr = room(node, name)
  recordRoom(nr, nodeEvents)
  nr.join({ who: 'node' })
  const both = [me, nodeUser].sort()
  /** @type {any[]} */
  let pe = []
  await until(async () => (pe = await pageEvents()).some((e) => e.type === 'join' && e.user === nodeUser), () => `the page sees the node join: ${JSON.stringify(pe)}`)
  await until(() => nodeEvents.some((e) => e.type === 'join' && e.user === me), () => `the node sees the page join: ${JSON.stringify(nodeEvents)}`)
  const nodeJoin = pe.find((e) => e.type === 'join' && e.user === nodeUser)
  const pageJoin = nodeEvents.find((e) => e.type === 'join' && e.user === me)
  assert.deepEqual(nodeJoin.state, { who: 'node' })
  assert.deepEqual(pageJoin.state, { who: 'page', cursor: 1 })
  assert.deepEqual(nodeJoin.members, both)
  assert.deepEqual(pageJoin.members, both)
  const pageId = pageJoin.id
  const nodeId = nodeJoin.id
  assert.deepEqual(await page.evaluate(() => globalThis.R.room.members.map((m) => [m.user, m.id]).sort()), [[me, pageId], [nodeUser, nodeId]].sort())
  assert.deepEqual(nr.members.map((m) => [m.user, m.id, m.state]).sort(), [[me, pageId, { who: 'page', cursor: 1 }], [nodeUser, nodeId, { who: 'node' }]].sort())

  // the demo's "who is online" lists the node user, whose hub is another one
  const lobby = room(node, 'demo').join({ name: nodeUser })
  const online = () => page.$$eval('#online li:not(.empty)', (els) => els.map((e) => e.textContent))
  await until(async () => (await online()).includes(nodeUser) && (await online()).includes(`${me} (you)`), async () => `the demo lists ${nodeUser}: ${JSON.stringify(await online())}`)
  await until(() => lobby.members.some((m) => m.user === me && m.state?.name === me), 'the node sees the demo user in the lobby')

  // an update from the page reaches the node
  await page.evaluate(() => globalThis.R.room.update({ who: 'page', cursor: 2 }))
  await until(() => nodeEvents.some((e) => e.type === 'update' && e.id === pageId && e.state.cursor === 2), () => `the node sees the update: ${JSON.stringify(nodeEvents)}`)
  assert.deepEqual(nr.members.find((m) => m.id === pageId)?.state, { who: 'page', cursor: 2 })

  // broadcasts reach the others, never their sender
  assert.equal(nr.broadcast({ hello: RUN }), true)
  await until(async () => (pe = await pageEvents()).some((e) => e.type === 'message'), () => `the page gets the broadcast: ${JSON.stringify(pe)}`)
  assert.equal(await page.evaluate((RUN) => globalThis.R.room.broadcast({ back: RUN }), RUN), true)
  await until(() => nodeEvents.some((e) => e.type === 'message'), () => `the node gets the page's broadcast: ${JSON.stringify(nodeEvents)}`)
  // the node's own broadcast went out before the page's, which crossed the same backplane after
  // it: an echo back to the sender would most likely be here by now (a barrier, not a proof)
  assert.deepEqual(nodeEvents.filter((e) => e.type === 'message'), [{ type: 'message', from: pageId, user: me, msg: { back: RUN } }])
  assert.deepEqual((await pageEvents()).filter((e) => e.type === 'message'), [{ type: 'message', from: nodeId, user: nodeUser, msg: { hello: RUN } }])

  // leave(): the node sees it, the page's own list is empty
  await page.evaluate(() => globalThis.R.room.leave())
  await until(() => nodeEvents.some((e) => e.type === 'leave' && e.id === pageId), () => `the node sees the page leave: ${JSON.stringify(nodeEvents)}`)
  assert.deepEqual(nodeEvents.at(-1), { type: 'leave', id: pageId, user: me, state: { who: 'page', cursor: 2 }, members: [nodeUser] })
  assert.deepEqual(await page.evaluate(() => globalThis.R.room.members), [])

  // joins again, then the page goes away without leaving
  await page.evaluate(() => globalThis.R.room.join({ who: 'page', cursor: 3 }))
  const rejoined = () => nodeEvents.findIndex((e) => e.type === 'join' && e.id === pageId && e.state.cursor === 3)
  await until(() => rejoined() >= 0, () => `the node sees the page join again: ${JSON.stringify(nodeEvents)}`)
  const closing = Date.now()
  await context.close()
  const left = () => nodeEvents.slice(rejoined()).find((e) => e.type === 'leave' && e.id === pageId)
  await until(left, () => `the node sees the closed page leave: ${JSON.stringify(nodeEvents)}`)
  // not before hub B's grace period: it waits for a reconnect first (a lower bound, load only delays)
  const after = Date.now() - closing
  assert.ok(after >= GRACE_MS, `left ${after} ms after the page closed, within the grace period of ${GRACE_MS} ms`)
  console.log(`the closed page left ${after} ms after the close (grace ${GRACE_MS} ms)`)
  assert.deepEqual(left()?.members, [nodeUser])
  await until(() => !lobby.members.some((m) => m.user === me), 'the demo user left the lobby too')
  assert.deepEqual(nodeEvents.filter((e) => e.type === 'error'), [])
})

// A query subscription in Chromium: a page syncs only a subset of `tasks` (real IndexedDB), sees a
// document leave it live and another enter it, from writes another browser context makes through
// the hub, and still answers the subset's local query after a reload with the hub unreachable.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, launch } from './helpers.js'

const RUN = 'sb' + Date.now().toString(36)

/** A page of the hub's origin with a client; `whole`: `tasks` synced whole, else only through subscriptions. */
async function openClient(context, name, whole, url) {
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/')
  await page.evaluate(async ({ name, whole, url }) => {
    const { SyncClient } = await import('/src/index.js')
    const { query, subset } = await import('/src/query.js')
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const client = new SyncClient({ url: url || `${proto}//${location.host}/sync`, dbName: name, token: 'dev' })
    globalThis.s = { client, tasks: whole ? client.collection('tasks') : subset(client, 'tasks'), query }
  }, { name, whole, url })
  return page
}

test('a subset synced into IndexedDB in Chromium: first sync, live enter and leave, offline query after a reload', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const writer = await openClient(await browser.newContext(), 'sw-' + RUN, true)
  await writer.evaluate(async ({ RUN }) => {
    const { tasks, client } = globalThis.s
    for (let i = 0; i < 40; i++) await tasks.put({ id: `${RUN}-${i}`, team: i < 30 ? RUN : RUN + 'x', done: i % 3 === 0, n: i })
    await client.flush()
  }, { RUN })

  const context = await browser.newContext()
  const reader = await openClient(context, 'sr-' + RUN, false)
  const first = await reader.evaluate(async ({ RUN }) => {
    const { tasks, query } = globalThis.s
    const h = query(tasks).where({ team: RUN, done: false }).sync()
    const progress = []
    h.addEventListener('progress', (e) => progress.push(e.detail))
    globalThis.h = h
    await h.ready
    globalThis.seen = []
    query(tasks).where('team', '==', RUN).observe((docs) => globalThis.seen.push(docs.map((d) => d.n)))
    return { ns: (await tasks.getAll()).map((d) => d.n).sort((a, b) => a - b), last: progress.at(-1) }
  }, { RUN })
  const want = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 !== 0)
  assert.deepEqual(first.ns, want, 'only the subset: not the other team, not the done ones')
  assert.deepEqual(first.last, { done: 20, synced: true })

  // live: 1 leaves the subset (done), 3 enters it (no longer done)
  await writer.evaluate(async ({ RUN }) => {
    const { tasks, client } = globalThis.s
    await tasks.put({ id: `${RUN}-1`, team: RUN, done: true, n: 1 })
    await tasks.put({ id: `${RUN}-3`, team: RUN, done: false, n: 3 })
    await client.flush()
  }, { RUN })
  await reader.waitForFunction(() => { const s = globalThis.seen.at(-1); return s && !s.includes(1) && s.includes(3) }, null, { timeout: 20000 })

  // reload with the hub unreachable: the subset answers its query from IndexedDB
  await reader.evaluate(() => globalThis.s.client.close())
  await reader.close()
  const offline = await openClient(context, 'sr-' + RUN, false, 'ws://127.0.0.1:9/sync')
  const ns = await offline.evaluate(async ({ RUN }) => {
    const { tasks, query } = globalThis.s
    return (await query(tasks).where('team', '==', RUN).where('n', '<', 10).get()).map((d) => d.n).sort((a, b) => a - b)
  }, { RUN })
  assert.deepEqual(ns, [2, 3, 4, 5, 7, 8])
})

// Queries and live queries in Chromium: an indexed query over real IndexedDB, and a live query in
// one browser context updated by a write another context makes through the hub.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BASE, launch } from './helpers.js'

const RUN = Date.now().toString(36)

/** A page of the hub's origin with a client on collection `todos` declaring query indexes. */
async function openClient(context, name) {
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/')
  await page.evaluate(async ({ name }) => {
    const { SyncClient } = await import('/src/index.js')
    const { query, indexes } = await import('/src/query.js')
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const client = new SyncClient({ url: `${proto}//${location.host}/sync`, dbName: name, token: 'dev', indexes: indexes({ todos: [['run', 'n']] }) })
    globalThis.q = { client, todos: client.collection('todos'), query }
  }, { name })
  await page.waitForFunction(() => globalThis.q.client.status === 'live', null, { timeout: 20000 })
  return page
}

test('an indexed query and a live query updated by another browser through the hub', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const a = await openClient(await browser.newContext(), 'qa-' + RUN)
  const b = await openClient(await browser.newContext(), 'qb-' + RUN)

  const got = await a.evaluate(async ({ RUN }) => {
    const { todos, query } = globalThis.q
    await Promise.all(Array.from({ length: 200 }, (_, i) => todos.put({ id: `${RUN}-${i}`, run: RUN, n: i, title: 'q ' + i })))
    const q = query(todos).where('run', '==', RUN).where('n', '>=', 150).orderBy('n', 'desc').limit(3)
    const docs = await q.get()
    return { ids: docs.map((d) => d.n), explain: q.explain(), count: await query(todos).where('run', '==', RUN).count() }
  }, { RUN })
  assert.deepEqual(got.ids, [199, 198, 197])
  assert.deepEqual(got.explain, { index: 'q:todos:run,n', ranges: 1, ordered: true, exact: true })
  assert.equal(got.count, 200)

  // B observes the run's documents with n >= 1000; A adds one through the hub
  await b.evaluate(({ RUN }) => {
    const { todos, query } = globalThis.q
    globalThis.seen = []
    query(todos).where('run', '==', RUN).where('n', '>=', 1000).observe((docs, meta) => globalThis.seen.push({ ids: docs.map((d) => d.id), ...meta }))
  }, { RUN })
  await b.waitForFunction(() => globalThis.seen.length >= 1, null, { timeout: 20000 })
  assert.deepEqual(await b.evaluate(() => globalThis.seen[0].ids), [])
  await a.evaluate(async ({ RUN }) => {
    await globalThis.q.todos.put({ id: `${RUN}-big`, run: RUN, n: 1000, title: 'big' })
    await globalThis.q.client.flush()
  }, { RUN })
  await b.waitForFunction((id) => globalThis.seen.at(-1).ids.includes(id), `${RUN}-big`, { timeout: 20000 })
  const last = await b.evaluate(() => globalThis.seen.at(-1))
  assert.deepEqual(last, { ids: [`${RUN}-big`], pending: false, fromCache: false })

  // a local write in B shows at once, pending until the hub acknowledged it
  await b.evaluate(async ({ RUN }) => {
    await globalThis.q.todos.put({ id: `${RUN}-b`, run: RUN, n: 2000, title: 'from b' })
  }, { RUN })
  await b.waitForFunction((id) => globalThis.seen.some((s) => s.ids.includes(id)), `${RUN}-b`, { timeout: 20000 })
  await b.waitForFunction((id) => { const s = globalThis.seen.at(-1); return s.ids.includes(id) && !s.pending }, `${RUN}-b`, { timeout: 20000 })
})

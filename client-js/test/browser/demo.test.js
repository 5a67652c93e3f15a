// End-to-end in Chromium: two users, offline edits with a reload, multi-tab takeover, screenshot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { BASE, launch, openDemo, addTodo, titles, storedTitles } from './helpers.js'

const RUN = Date.now().toString(36)
const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))

/** @param {() => Promise<boolean>} fn */
async function until(fn, what, timeout = 20000) {
  const end = Date.now() + timeout
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out: ' + (typeof what === 'function' ? what() : what))
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('two users edit one list; one goes offline, edits, reloads offline, comes back; both converge', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const ctxA = await browser.newContext()
  const ctxB = await browser.newContext()
  const a = await openDemo(ctxA)
  const b = await openDemo(ctxB)
  await addTodo(a, `A1 ${RUN}`)
  await until(async () => (await titles(b)).includes(`A1 ${RUN}`), 'B sees A1')

  // B: make sure the app shell is cached (service worker controls the page), then go offline.
  await b.evaluate(() => navigator.serviceWorker.ready)
  await b.reload()
  await b.waitForFunction(() => navigator.serviceWorker.controller && globalThis.synchub?.client.status === 'live')
  await ctxB.setOffline(true)
  await b.evaluate(() => globalThis.dispatchEvent(new Event('offline')))
  await until(async () => (await b.evaluate(() => globalThis.synchub.client.status)) === 'offline', 'B offline')
  await addTodo(b, `B-offline ${RUN}`)
  await until(async () => (await titles(b)).includes(`B-offline ${RUN}`), 'B shows its offline edit')
  await addTodo(a, `A2 ${RUN}`)

  await b.reload()
  await b.waitForFunction(() => globalThis.synchub?.client)
  await until(async () => (await titles(b)).includes(`B-offline ${RUN}`), 'offline edit survives the reload')
  assert.ok((await b.evaluate(() => globalThis.synchub.client.pendingCount())) >= 1)

  await ctxB.setOffline(false)
  await b.evaluate(() => globalThis.dispatchEvent(new Event('online')))
  await b.evaluate(() => globalThis.synchub.client.flush())
  await until(async () => (await titles(a)).includes(`B-offline ${RUN}`), 'A sees the offline edit')
  await until(async () => (await titles(b)).includes(`A2 ${RUN}`), 'B catches up with A2')
  const sa = (await storedTitles(a)).filter((x) => x.endsWith(RUN)).sort()
  const sb = (await storedTitles(b)).filter((x) => x.endsWith(RUN)).sort()
  assert.deepEqual(sa, sb)
  assert.deepEqual(sa, [`A1 ${RUN}`, `A2 ${RUN}`, `B-offline ${RUN}`])
})

test('two tabs in one context: writes from both, socket-holding tab closed, nothing lost', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const ctx = await browser.newContext()
  const t1 = await openDemo(ctx)
  const t2 = await openDemo(ctx)
  const leaders = await Promise.all([t1, t2].map((p) => p.evaluate(() => globalThis.synchub.client.leader)))
  assert.deepEqual(leaders.sort(), [false, true], 'exactly one tab holds the socket')
  const [holder, other] = (await t1.evaluate(() => globalThis.synchub.client.leader)) ? [t1, t2] : [t2, t1]
  const writes = (page, tag) =>
    page.evaluate(async ({ tag, RUN }) => {
      const ps = []
      for (let i = 0; i < 25; i++) ps.push(globalThis.synchub.todos.put({ id: `${tag}-${RUN}-${i}`, title: `${tag} ${i} ${RUN}`, done: false }))
      await Promise.all(ps)
    }, { tag, RUN })
  await Promise.all([writes(holder, 'h'), writes(other, 'o')])
  await holder.close()
  await until(() => other.evaluate(() => globalThis.synchub.client.leader), 'the other tab takes over')
  await other.evaluate(() => globalThis.synchub.client.flush())
  const check = await openDemo(await browser.newContext())
  const mine = (list) => list.filter((x) => /^[ho] \d+ /.test(x) && x.endsWith(RUN))
  /** @type {string[]} */
  let held = []
  await until(
    async () => (held = mine(await storedTitles(check))).length === 50,
    // say what was missing, and whether the tab that flushed them holds it (a flake once, under load)
    () => `all 50 writes on the hub: a new client holds ${held.length}, missing ${JSON.stringify(
      ['h', 'o'].flatMap((tag) => [...Array(25).keys()].map((i) => `${tag} ${i} ${RUN}`)).filter((x) => !held.includes(x)).slice(0, 8)
    )}`,
    40000
  )
  // the remaining tab has every write of both tabs
  assert.equal(mine(await storedTitles(other)).length, 50)
})

test('demo screenshot shows the rendered list', { timeout: 60000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const page = await openDemo(await browser.newContext({ viewport: { width: 1100, height: 700 } }))
  for (const title of ['Buy milk', 'Review the sync protocol', 'Ship the client']) await addTodo(page, `${title}`)
  await until(async () => (await titles(page)).length >= 3, 'items rendered')
  await page.waitForFunction(() => document.querySelectorAll('#metrics li:not(.empty)').length > 0, null, { timeout: 15000 }).catch(() => {})
  const items = await page.$$eval('#todos li[data-id]', (els) => els.length)
  assert.ok(items >= 3, `list items at screenshot time: ${items}`)
  await mkdir(artifacts, { recursive: true })
  const file = artifacts + 'demo.png'
  const png = await page.screenshot({ path: file })
  assert.ok(png.length > 10000, `screenshot of ${png.length} bytes`)
  assert.equal((await stat(file)).size, png.length)
  console.log(`screenshot: ${file} (${items} list items, ${png.length} bytes)`)
})

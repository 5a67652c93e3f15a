// End-to-end in Chromium: two users, offline edits with a reload, multi-tab takeover, the filtered
// live list, conflicts resolved with "keep mine" / "take theirs", who is online, the service
// worker's precache and cache clean-up, screenshot.
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
    if (Date.now() > end) throw new Error('timed out: ' + (typeof what === 'function' ? await what() : what))
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

/** Goes offline (the context and the client's `offline` event), or back online. */
async function setOffline(page, off) {
  await page.context().setOffline(off)
  await page.evaluate((off) => globalThis.dispatchEvent(new Event(off ? 'offline' : 'online')), off)
}

/** Click the checkbox of the todo titled `title`. */
const toggle = (page, title) => page.locator('#todos li[data-id]', { hasText: title }).locator('input').click()

/** The stored todo titled `title` (read in the page). */
const stored = (page, title) => page.evaluate(async (title) => (await globalThis.synchub.todos.getAll()).find((t) => t.title === title), title)

test('the filtered live list follows checkbox changes of another user', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const a = await openDemo(await browser.newContext())
  const b = await openDemo(await browser.newContext())
  const [f1, f2] = [`F1 ${RUN}`, `F2 ${RUN}`]
  await addTodo(a, f1)
  await addTodo(a, f2)
  const mine = async (page) => (await titles(page)).filter((x) => x.endsWith(RUN) && x.startsWith('F'))
  await a.check('input[name=filter][value=open]')
  await until(async () => (await mine(a)).join() === [f1, f2].join(), 'A lists both open todos, oldest first')
  await until(async () => (await titles(b)).includes(f1), 'B sees F1')
  await toggle(b, f1)
  await until(async () => (await mine(a)).join() === f2, () => 'the open list of A drops F1 done by B')
  await a.check('input[name=filter][value=done]')
  await until(async () => (await mine(a)).join() === f1, 'the done list of A holds F1 only')
  assert.equal(await a.getAttribute('#todos', 'data-filter'), 'done')
})

test('conflicts: an offline edit the hub refused is shown; "keep mine" and "take theirs" write the choice', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const a = await openDemo(await browser.newContext())
  const b = await openDemo(await browser.newContext())
  const [k, th] = [`K ${RUN}`, `T ${RUN}`]
  await addTodo(a, k)
  await addTodo(a, th)
  await until(async () => (await titles(b)).includes(k) && (await titles(b)).includes(th), 'B sees both todos')
  // B marks both done offline; A renames both later: under last-writer-wins A's edits are newer
  await setOffline(b, true)
  await until(async () => (await b.evaluate(() => globalThis.synchub.client.status)) === 'offline', 'B offline')
  await toggle(b, k)
  await toggle(b, th)
  await until(async () => (await b.textContent('#pending')) === '2', 'B holds two pending writes')
  await a.evaluate(async (titles) => {
    const all = await globalThis.synchub.todos.getAll()
    for (const title of titles) await globalThis.synchub.todos.put({ ...all.find((x) => x.title === title), title: title + ' (A)' })
    await globalThis.synchub.client.flush()
  }, [k, th])
  await setOffline(b, false)
  await b.evaluate(() => globalThis.synchub.client.flush())
  // B is shown both conflicts, and its list now holds A's versions
  const rows = b.locator('#conflicts li')
  await until(async () => (await rows.count()) === 2, 'two conflicts shown')
  assert.ok(await b.isVisible('#conflicts-box'))
  const row = (title) => b.locator('#conflicts li', { hasText: `mine “${title}” (done)` })
  assert.match(await row(k).textContent(), new RegExp(`theirs “${k} \\(A\\)”`))
  await until(async () => (await titles(b)).includes(`${k} (A)`), 'B lists A\'s version while the choice is open')

  await row(k).locator('button.keep').click()
  await row(th).locator('button.take').click()
  await until(async () => (await rows.count()) === 0 && !(await b.isVisible('#conflicts-box')), async () =>
    `the conflicts are gone; shown: ${JSON.stringify(await rows.allTextContents())}, last event: ${await b.textContent('#event')}`)
  await b.evaluate(() => globalThis.synchub.client.flush())
  // everyone ends with B's version of K and A's of T
  for (const page of [a, b]) {
    await until(async () => (await stored(page, k))?.done === true, 'K is B\'s (done, first title) everywhere')
    assert.equal(await stored(page, `${k} (A)`), undefined)
    const theirs = await stored(page, `${th} (A)`)
    assert.equal(theirs?.done, false, 'T keeps A\'s version')
  }
})

test('who is online: each user sees the other in the demo room, and sees them leave', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const a = await openDemo(await browser.newContext())
  const b = await openDemo(await browser.newContext())
  const [ma, mb] = [await a.textContent('#me'), await b.textContent('#me')]
  assert.notEqual(ma, mb)
  const online = (page) => page.$$eval('#online li:not(.empty)', (els) => els.map((e) => e.textContent))
  await until(async () => (await online(a)).includes(mb) && (await online(a)).includes(`${ma} (you)`), () => `A lists B (${mb})`)
  await until(async () => (await online(b)).includes(ma), `B lists A (${ma})`)
  await b.close()
  await until(async () => !(await online(a)).includes(mb), 'B left the room', 40000)
})

test('service worker: precached shell, old caches removed, offline reload right after the first visit', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  // a cache an older worker left behind
  await page.goto(BASE + '/src/types.js')
  await page.evaluate(async () => (await caches.open('synchub-demo-v1')).put('/old', new Response('old')))
  await page.goto(BASE + '/')
  await page.waitForFunction(() => globalThis.synchub?.client.status === 'live', null, { timeout: 20000 })
  await page.evaluate(() => navigator.serviceWorker.ready)
  const cached = () =>
    page.evaluate(async () => {
      const out = {}
      for (const k of await caches.keys()) out[k] = (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname)
      return out
    })
  let seen = {}
  await until(async () => {
    seen = await cached()
    const v2 = seen['synchub-demo-v2'] ?? []
    return Object.keys(seen).join() === 'synchub-demo-v2' && ['/', '/app.js', '/src/index.js', '/src/client.js', '/vendor/msgpack/index.mjs'].every((p) => v2.includes(p))
  }, () => 'caches: ' + JSON.stringify(seen))
  const title = `SW ${RUN}`
  await addTodo(page, title)
  await until(async () => (await titles(page)).includes(title), 'the todo is listed')
  await page.evaluate(() => globalThis.synchub.client.flush())
  // no online reload in between: what the first visit loaded is enough
  await ctx.setOffline(true)
  await page.reload()
  await page.waitForFunction(() => globalThis.synchub?.client, null, { timeout: 20000 })
  await until(async () => (await titles(page)).includes(title), 'the offline reload lists the todo')
})

// The framework bindings in Chromium against the hub: a React app (StrictMode, development build),
// Svelte stores and a Vue app render what the client holds, follow local writes, other browsers'
// writes through the hub and acknowledgements, and let go of the client when unmounted. The page
// (pages/bindings.js) is bundled with esbuild and served on the hub's origin through a route.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { BASE, launch } from './helpers.js'

const RUN = Date.now().toString(36)
const root = fileURLToPath(new URL('../../', import.meta.url))
const bundle = (
  await build({
    entryPoints: [root + 'test/browser/pages/bindings.js'],
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    define: { 'process.env.NODE_ENV': '"development"' },
    write: false,
  })
).outputFiles[0].text

/**
 * A page of the hub's origin running the bundle (`globalThis.T`). The document is one the hub
 * serves (a static file of no consequence): a document Playwright made up itself would not be
 * allowed to open a socket to a local address.
 */
async function open(browser) {
  const page = await (await browser.newContext()).newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/src/types.js')
  await page.evaluate(() => document.body.replaceChildren())
  await page.addScriptTag({ type: 'module', content: bundle })
  await page.waitForFunction(() => globalThis.T)
  return page
}

/** Wait until `sel` renders `text`; the error says what it rendered instead. */
async function see(page, sel, text) {
  try {
    await page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent === t, [sel, text], { timeout: 20000 })
  } catch {
    assert.fail(`${sel}: expected ${JSON.stringify(text)}, rendered ${JSON.stringify(await page.evaluate((s) => document.querySelector(s)?.textContent, sel))}`)
  }
}

/** Another browser writing through the hub: `(docs, deletes)` puts and deletes, then flushes. */
async function writer(browser, name) {
  const page = await open(browser)
  await page.evaluate((name) => {
    globalThis.w = T.makeClient(name)
    w.connect()
  }, name)
  return (docs, deletes = []) =>
    page.evaluate(async ({ docs, deletes }) => {
      await Promise.all([...docs.map((d) => w.todos.put(d)), ...deletes.map((id) => w.todos.delete(id))])
      await w.client.flush()
    }, { docs, deletes })
}

/** Let the page run its batched work: two animation frames. */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))

test('React hooks render the live query, a document, the status and the outbox, and follow the hub', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 'r' + RUN
  const a = await open(browser)
  await a.evaluate((run) => (globalThis.app = T.react('bind-react-' + run, run)), run)
  // the token function waits: nothing is connected, nothing pending
  await see(a, '#bar', 'connecting 0')
  await see(a, '#list', 'none')
  await see(a, '#doc', 'absent')

  // local writes show at once, in the query's order, and stay pending while not connected
  await a.evaluate(async (run) => {
    await app.todos.put({ id: run + '-b', run, n: 2, title: 'b' })
    await app.todos.put({ id: run + '-a', run, n: 1, title: 'a' })
  }, run)
  await see(a, '#list', 'ab')
  await see(a, '#doc', 'a')
  await see(a, '#bar', 'connecting 2')
  await a.evaluate(() => app.connect())
  await see(a, '#bar', 'live 0')

  // stable snapshots: the list renders once for the one change of its documents, not for a write
  // it does not match, the status going offline and back (`fromCache`) or acknowledgements (`pending`)
  // the window starts once the list is still: after the sync it has been seen to render once more
  // with the same documents as new objects (docs/testing.md, open), which is not what is measured here
  for (let n = -1, m; n !== (m = await a.evaluate(() => app.commits.n)); ) {
    n = m
    await new Promise((r) => setTimeout(r, 500))
  }
  const before = await a.evaluate(() => app.commits.n)
  const madeBefore = await a.evaluate(() => app.client.made.resync)
  await a.context().setOffline(true)
  await a.evaluate(() => globalThis.dispatchEvent(new Event('offline')))
  await see(a, '#bar', 'offline 0')
  await a.evaluate(async (run) => {
    await app.todos.put({ id: run + '-x', run: run + '-other', n: 0, title: 'x' })
    await app.todos.put({ id: run + '-c', run, n: 3, title: 'c' })
  }, run)
  await see(a, '#list', 'abc')
  await see(a, '#bar', 'offline 2')
  await a.context().setOffline(false)
  await a.evaluate(() => globalThis.dispatchEvent(new Event('online')))
  await see(a, '#bar', 'live 0')
  await frames(a)
  const made = await a.evaluate(() => app.client.made.resync)
  const renders = await a.evaluate((before) => app.commits.seen.slice(before - 1).map((c) => `${c.titles} kept:${c.same.join(',')} ${c.shapes}`), before)
  const from = renders.shift() // the render the window starts from
  if (renders.length !== 1) t.diagnostic(`from: ${from}; live queries made: ${madeBefore} then ${made}`)
  t.diagnostic(`renders before: ${await a.evaluate((before) => app.commits.seen.slice(0, before).map((c) => `${c.titles} kept:${c.same.join(',')}`).join(' | '), before)}`)
  assert.equal(renders.length, 1, `the list rendered ${renders.length} times: ${renders.join(' | ')}`)

  // another browser's writes arrive through the hub
  const w = await writer(browser, 'bind-react-w-' + run)
  await w([{ id: run + '-d', run, n: 4, title: 'd' }])
  await see(a, '#list', 'abcd')
  await a.evaluate((run) => app.todos.update(run + '-a', (cur) => cur && { ...cur, title: 'A' }), run)
  await see(a, '#doc', 'A')
  await see(a, '#list', 'Abcd')
  await w([], [run + '-a'])
  await see(a, '#doc', 'absent')
  await see(a, '#list', 'bcd')

  // unmounted: no live query, document or outbox reader is left on the client
  await a.evaluate(() => app.unmount())
  await a.waitForFunction(() => T.followers(app.client) === 0 && T.unwrapped(app.client), null, { timeout: 5000 })
})

test('Svelte stores hand over their value at once and follow local and remote writes until unsubscribed', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 's' + RUN
  const a = await open(browser)
  const first = await a.evaluate((run) => {
    globalThis.app = T.svelteStores('bind-svelte-' + run, run)
    return { handedAtOnce: app.handedAtOnce, calls: [...app.calls] }
  }, run)
  assert.deepEqual(first, { handedAtOnce: true, calls: [0] })
  await a.evaluate(() => app.connect())
  await see(a, '#svelte-status', 'live')
  await a.evaluate(async (run) => {
    await Promise.all([app.todos.put({ id: run + '-b', run, n: 2, title: 'b' }), app.todos.put({ id: run + '-a', run, n: 1, title: 'a' })])
  }, run)
  await see(a, '#svelte', 'ab')
  const w = await writer(browser, 'bind-svelte-w-' + run)
  await w([{ id: run + '-c', run, n: 3, title: 'c' }])
  await see(a, '#svelte', 'abc')

  // unsubscribed: the live query stops and nothing more is handed over
  const calls = await a.evaluate(() => (app.off(), app.calls.length))
  await a.waitForFunction(() => T.followers(app.client) === 0, null, { timeout: 5000 })
  await a.evaluate(async (run) => {
    await app.todos.put({ id: run + '-d', run, n: 4, title: 'd' })
    await app.client.flush()
  }, run)
  await frames(a)
  assert.equal(await a.evaluate(() => app.calls.length), calls)
  assert.equal(await a.textContent('#svelte'), 'abc')
})

test('Vue composables: a ref follows a query that depends on a ref, and stops with the app', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 'v' + RUN
  const a = await open(browser)
  await a.evaluate((run) => (globalThis.app = T.vueApp('bind-vue-' + run, run)), run)
  await a.evaluate(() => app.connect())
  await see(a, '#vue-status', 'live')
  await a.evaluate(async (run) => {
    await Promise.all([
      app.todos.put({ id: run + '-a', run, n: 1, done: false, title: 'a' }),
      app.todos.put({ id: run + '-b', run, n: 2, done: true, title: 'b' }),
      app.todos.put({ id: run + '-c', run, n: 3, done: false, title: 'c' }),
    ])
  }, run)
  await see(a, '#vue', 'ac')
  await a.evaluate(() => (app.done.value = true))
  await see(a, '#vue', 'b')
  await a.evaluate((run) => app.todos.update(run + '-c', (cur) => cur && { ...cur, done: true }), run)
  await see(a, '#vue', 'bc')
  const w = await writer(browser, 'bind-vue-w-' + run)
  await w([{ id: run + '-d', run, n: 4, done: true, title: 'd' }])
  await see(a, '#vue', 'bcd')
  // the ref's scope ends with the app: the live query is closed
  assert.ok((await a.evaluate(() => T.followers(app.client))) > 0)
  await a.evaluate(() => app.unmount())
  await a.waitForFunction(() => T.followers(app.client) === 0, null, { timeout: 5000 })
})

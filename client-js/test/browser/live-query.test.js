// Live queries patched in memory, in Chromium's IndexedDB (real transactions, real animation
// frames): two clients of one database in a page (the second stands for another tab: its writes
// reach the first as remote changes), offline, random queries and random batches of puts and
// deletions (tombstones); after each batch every live query must equal a fresh get(). The same
// property runs on fake-indexeddb with a hub in test/node/live-query.test.js; this one checks it
// holds with the browser's own transaction ordering. Serves src/ itself: no hub needed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { launch } from './helpers-launch.js'
import { startDevServer } from '../helpers/dev-server.js'
import { rng, pick, randomDoc, randomSpec } from '../helpers/random-query.js'

test('live queries in Chromium equal a fresh get() after every batch of random changes', { timeout: 120000 }, async (t) => {
  const server = await startDevServer(0)
  t.after(() => server.close())
  const browser = await launch()
  t.after(() => browser.close())
  const page = await browser.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.route(server.base + '/lq.html', (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="importmap">{"imports": {"@msgpack/msgpack": "/vendor/msgpack/index.mjs"}}</script><body>lq</body>' })
  )
  await page.goto(server.base + '/lq.html')
  const r = rng(4242)
  const ids = Array.from({ length: 40 }, (_, i) => 'd' + String(i).padStart(2, '0'))
  const specs = Array.from({ length: 10 }, () => randomSpec(r, ids, 'todos'))
  const initial = ids.filter(() => r() < 0.5).map((id) => randomDoc(r, id))
  await page.evaluate(async ({ specs, initial }) => {
    const { SyncClient } = await import('/src/index.js')
    const { query, indexes } = await import('/src/query.js')
    const opts = { url: 'ws://127.0.0.1:9/sync', dbName: 'lq-' + Date.now(), indexes: indexes({ todos: ['n', ['a', 'b', 'n'], ['b', 'a']] }), backoffMin: 60000, backoffMax: 60000 }
    const a = new SyncClient(opts)
    const b = new SyncClient(opts)
    await Promise.all(initial.map((d) => a.collection('todos').put(d)))
    console.warn = () => {} // scans are reported once per shape
    const lqs = specs.map((s) => {
      let q = query(a.collection('todos'))
      for (const w of s.where) q = q.where(w.field, w.op, w.value)
      for (const o of s.order) q = q.orderBy(o.field, o.dir)
      if (s.limit != null) q = q.limit(s.limit)
      if (s.after) q = q.startAfter(s.after)
      return { q, lq: q.live() }
    })
    // the first query's callbacks, to check they come at most once per animation frame
    const calls = { n: 0, frames: 0 }
    lqs[0].q.observe(() => calls.n++)
    const tick = () => requestAnimationFrame(() => (calls.frames++, tick()))
    tick()
    globalThis.lq = { a, b, lqs, calls }
  }, { specs, initial })

  for (let batch = 0; batch < 40; batch++) {
    const ops = []
    for (let k = 1 + Math.floor(r() * 5); k > 0; k--) {
      const id = pick(r, ids)
      ops.push({ tab: r() < 0.5 ? 'a' : 'b', id, doc: r() < 0.8 ? randomDoc(r, id) : null })
    }
    await page.evaluate(async (ops) => {
      const { a, b } = globalThis.lq
      await Promise.all(ops.map((o) => ((o.tab === 'a' ? a : b).collection('todos')[o.doc ? 'put' : 'delete'](o.doc ?? o.id))))
    }, ops)
    const bad = await page.evaluate(async () => {
      const same = (x, y) => JSON.stringify(x.map((d) => d.id)) === JSON.stringify(y.map((d) => d.id)) && x.every((d, i) => ['a', 'b', 'n'].every((f) => d[f] === y[i][f]))
      for (let tries = 0; tries < 200; tries++) {
        const diffs = []
        for (const [i, { q, lq }] of globalThis.lq.lqs.entries()) {
          const want = await q.get()
          const s = lq.getSnapshot()
          if (s.loading || s.error || !same(s.docs, want)) diffs.push({ i, got: s.docs.map((d) => d.id), want: want.map((d) => d.id), error: String(s.error) })
        }
        if (!diffs.length) return null
        if (tries === 199) return diffs
        await new Promise((res) => setTimeout(res, 20))
      }
    })
    assert.equal(bad, null, JSON.stringify({ batch, bad, specs: bad && bad.map((d) => specs[d.i]) }))
  }
  const { n, frames } = await page.evaluate(() => globalThis.lq.calls)
  assert.ok(n > 1 && n <= frames + 1, `callbacks ${n}, animation frames ${frames}`)
  await page.evaluate(() => Promise.all([globalThis.lq.a.close(), globalThis.lq.b.close()]))
})

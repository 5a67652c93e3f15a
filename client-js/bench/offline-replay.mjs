// Offline replay benchmark in Chromium: N writes made offline, then reconnect; time until the hub
// acknowledged all of them, plus local put throughput.
//   SYNCHUB_URL=http://host:port node bench/offline-replay.mjs [N]
import { launch, BASE } from '../test/browser/helpers.js'

const N = Number(process.argv[2] || 10000)
const browser = await launch()
try {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/')
  await page.waitForFunction(() => globalThis.synchub?.client.status === 'live', null, { timeout: 20000 })
  await context.setOffline(true)
  const local = await page.evaluate(async (N) => {
    const { SyncClient } = await import('/src/index.js')
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const client = new SyncClient({ url: `${proto}//${location.host}/sync`, dbName: 'bench-' + Date.now(), token: 'dev', backoffMin: 200, backoffMax: 1000 })
    globalThis.bench = client
    const coll = client.collection('bench')
    const run = Date.now().toString(36)
    // sequential: each put awaited (one transaction per write)
    const seqN = Math.min(1000, N)
    let t = performance.now()
    for (let i = 0; i < seqN; i++) await coll.put({ id: `${run}-s${i}`, i, title: 'sequential write ' + i })
    const sequentialMs = performance.now() - t
    // concurrent: puts issued together commit in shared transactions
    t = performance.now()
    const ps = []
    for (let i = seqN; i < N; i++) ps.push(coll.put({ id: `${run}-c${i}`, i, title: 'concurrent write ' + i }))
    await Promise.all(ps)
    const concurrentMs = performance.now() - t
    return { seqN, sequentialMs, concurrentN: N - seqN, concurrentMs, pending: await client.pendingCount(), status: client.status }
  }, N)
  await context.setOffline(false)
  const replay = await page.evaluate(async () => {
    const client = globalThis.bench
    const t = performance.now()
    globalThis.dispatchEvent(new Event('online'))
    await client.flush()
    const ms = performance.now() - t
    return { ms, pending: await client.pendingCount() }
  })
  const r = {
    writes: N,
    sequentialPutsPerSec: Math.round((local.seqN / local.sequentialMs) * 1000),
    concurrentPutsPerSec: local.concurrentN ? Math.round((local.concurrentN / local.concurrentMs) * 1000) : null,
    pendingWhileOffline: local.pending,
    replayAllAckedMs: Math.round(replay.ms),
    pendingAfter: replay.pending,
  }
  console.log(JSON.stringify(r))
  console.log(`offline writes: ${N}; local put: ${r.sequentialPutsPerSec}/s awaited one by one, ${r.concurrentPutsPerSec}/s issued together`)
  console.log(`reconnect -> all ${N} acknowledged in ${r.replayAllAckedMs} ms (target <= 3000 ms)`)
  if (r.pendingAfter !== 0 || r.pendingWhileOffline !== N) process.exitCode = 1
} finally {
  await browser.close()
}

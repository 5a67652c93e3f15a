// Offline replay benchmark in Chromium: N writes made offline, then reconnect; time until the hub
// acknowledged all of them, plus local put throughput.
//   SYNCHUB_URL=http://host:port node bench/offline-replay.mjs [N]
// The hub must have a writable collection `bench` (synchub dev has one; BENCH_COLL picks another).
// Every write must be acknowledged `ok`: error results (e.g. 4404, no such collection) fail the run.
import { launch, BASE } from '../test/browser/helpers.js'

const N = Number(process.argv[2] || 10000)
const COLL = process.env.BENCH_COLL || 'bench'
const browser = await launch()
try {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/')
  await page.waitForFunction(() => globalThis.synchub?.client.status === 'live', null, { timeout: 20000 })
  // The bench client first syncs the collection online (a client that was live, then lost the
  // network), so the replay measures the writes, not a snapshot of earlier runs' documents.
  await page.evaluate(async ({ COLL }) => {
    const { SyncClient } = await import('/src/index.js')
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const client = new SyncClient({ url: `${proto}//${location.host}/sync`, dbName: 'bench-' + Date.now(), token: 'dev', backoffMin: 200, backoffMax: 1000 })
    globalThis.bench = client
    globalThis.benchTrouble = []
    for (const type of ['conflict', 'error']) client.addEventListener(type, (e) => globalThis.benchTrouble.push({ type, ...e.detail, error: String(e.detail.error ?? '') }))
    client.collection(COLL)
    const t = performance.now()
    while (client.status !== 'live') {
      if (performance.now() - t > 120000) throw new Error('bench client never live: ' + client.status)
      await new Promise((r) => setTimeout(r, 50))
    }
  }, { COLL })
  await context.setOffline(true)
  await page.evaluate(() => globalThis.dispatchEvent(new Event('offline')))
  const local = await page.evaluate(async ({ N, COLL }) => {
    const client = globalThis.bench
    const coll = client.collection(COLL)
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
  }, { N, COLL })
  await context.setOffline(false)
  const replay = await page.evaluate(async () => {
    const client = globalThis.bench
    const t = performance.now()
    globalThis.dispatchEvent(new Event('online'))
    await client.flush()
    const ms = performance.now() - t
    const trouble = globalThis.benchTrouble.filter((e) => e.type === 'conflict' || e.kind === 'mutation' || e.kind === 'sub')
    return { ms, pending: await client.pendingCount(), trouble: trouble.length, firstTrouble: trouble[0] ?? null }
  })
  const r = {
    writes: N,
    sequentialPutsPerSec: Math.round((local.seqN / local.sequentialMs) * 1000),
    concurrentPutsPerSec: local.concurrentN ? Math.round((local.concurrentN / local.concurrentMs) * 1000) : null,
    pendingWhileOffline: local.pending,
    replayAllAckedMs: Math.round(replay.ms),
    pendingAfter: replay.pending,
    notOk: replay.trouble,
  }
  console.log(JSON.stringify(r))
  console.log(`offline writes: ${N}; local put: ${r.sequentialPutsPerSec}/s awaited one by one, ${r.concurrentPutsPerSec}/s issued together`)
  console.log(`reconnect -> all ${N} acknowledged in ${r.replayAllAckedMs} ms (target <= 3000 ms)`)
  if (replay.trouble) console.error(`${replay.trouble} writes not acknowledged ok, first:`, replay.firstTrouble)
  if (r.pendingAfter !== 0 || r.pendingWhileOffline !== N || replay.trouble) process.exitCode = 1
} finally {
  await browser.close()
}

// First sync benchmark (issue 13 §2.4): a new client syncs a whole collection from a running hub;
// time from the client's creation to `live` (every page stored), in Node (fake-indexeddb) or in
// Chromium (its IndexedDB; the page and src/ served by the hub, as for its demo).
//   node bench/first-sync.mjs ws://host:port/sync COLL [EXPECTED] [node|chromium]
// Prints one JSON line: {docs, stored, ms, docsPerSec, cpuS (this process and its children, e.g.
// Chromium), trouble}. bench/catchup.py runs it against a hub whose collection it filled.
// Exit status 1 when fewer than EXPECTED documents were stored or the client reported an error.
import { readFileSync, readdirSync } from 'node:fs'

const [url, coll, expected, where = 'node'] = process.argv.slice(2)
if (!url || !coll || !['node', 'chromium'].includes(where)) {
  console.error('usage: node bench/first-sync.mjs ws://host:port/sync COLL [EXPECTED] [node|chromium]')
  process.exit(2)
}

/** Runs in Node or in the page: create a client, wait until it is live, read the store back. */
async function firstSync({ url, coll, SyncClient, opts }) {
  const t0 = performance.now()
  const client = new SyncClient({ url, dbName: 'first-sync-' + Date.now(), token: 'dev', backoffMin: 1000, backoffMax: 5000, ...opts })
  let done = 0
  let trouble = null
  client.addEventListener('progress', (e) => {
    if (e.detail.coll === coll) done = e.detail.done
  })
  client.addEventListener('error', (e) => {
    trouble = String(e.detail?.message ?? e.detail)
  })
  client.collection(coll)
  await new Promise((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`not live after 600 s: ${client.status}, ${done} documents`)), 600_000)
    const check = () => {
      if (client.status === 'live' || trouble) {
        clearTimeout(limit)
        client.removeEventListener('status', check)
        resolve(undefined)
      }
    }
    client.addEventListener('status', check)
    check()
  })
  const ms = performance.now() - t0
  // read back from the store: the pages were applied, not just received
  const stored = (await client.collection(coll).getAll()).length
  await client.close()
  return { docs: done, stored, ms: Math.round(ms), docsPerSec: Math.round((stored / ms) * 1000), trouble }
}

/** CPU seconds of this process and its descendants (Chromium's), from /proc. */
function treeCpu() {
  const tick = 100 // USER_HZ on Linux
  const kids = new Map()
  const cpu = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const f = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1].split(' ')
      kids.set(f[1], [...(kids.get(f[1]) ?? []), name])
      cpu.set(name, (Number(f[11]) + Number(f[12])) / tick)
    } catch {}
  }
  let total = 0
  for (const todo = [String(process.pid)]; todo.length; ) {
    const p = todo.pop()
    total += cpu.get(p) ?? 0
    todo.push(...(kids.get(p) ?? []))
  }
  return total
}

let r
if (where === 'node') {
  await import('fake-indexeddb/auto') // IDBKeyRange and friends as globals, as in a browser
  const { SyncClient } = await import('../src/index.js')
  const WebSocket = (await import('ws')).default
  const { IDBFactory } = await import('fake-indexeddb')
  const opts = { WebSocket, indexedDB: new IDBFactory(), locks: null, BroadcastChannel: null, events: null, document: null }
  r = await firstSync({ url, coll, SyncClient, opts })
  r.cpuS = treeCpu()
} else {
  const { launch } = await import('../test/browser/helpers-launch.js')
  const base = new URL(url)
  base.protocol = base.protocol === 'wss:' ? 'https:' : 'http:'
  base.pathname = ''
  const browser = await launch()
  try {
    const page = await browser.newPage()
    page.on('pageerror', (e) => console.error('pageerror:', e.message))
    // a static file the hub serves (a page made up by the test could not open a socket to a
    // local address), then `@msgpack/msgpack` mapped as the demo does
    await page.goto(base.origin + '/src/types.js')
    await page.evaluate(() => {
      const map = Object.assign(document.createElement('script'), { type: 'importmap' })
      map.textContent = JSON.stringify({ imports: { '@msgpack/msgpack': '/vendor/msgpack/index.mjs' } })
      document.head.append(map)
    })
    const cpu0 = treeCpu()
    const fn = `(${firstSync})`
    r = await page.evaluate(
      async ({ url, coll, fn }) => (0, eval)(fn)({ url, coll, SyncClient: (await import('/src/index.js')).SyncClient, opts: {} }),
      { url, coll, fn }
    )
    r.cpuS = Math.round((treeCpu() - cpu0) * 100) / 100
  } finally {
    await browser.close()
  }
}
r.where = where
console.log(JSON.stringify(r))
if (r.trouble || (expected && r.stored < Number(expected))) process.exitCode = 1

// First sync benchmark in Node (issue 13 §2.4): a new client (fake-indexeddb) syncs a whole
// collection from a running hub; time from the client's creation to `live` (every page stored).
//   node bench/first-sync.mjs ws://host:port/sync COLL [EXPECTED]
// Prints one JSON line: {docs, stored, ms, docsPerSec, cpuS (this process)}. bench/catchup.py runs it against a hub
// whose collection it filled. Exit status 1 when fewer than EXPECTED documents were stored.
import { makeClient } from '../test/helpers/util.js'

const [url, coll, expected] = process.argv.slice(2)
if (!url || !coll) {
  console.error('usage: node bench/first-sync.mjs ws://host:port/sync COLL [EXPECTED]')
  process.exit(2)
}
const t0 = performance.now()
const client = makeClient(url, { dbName: 'first-sync-' + Date.now(), backoffMin: 1000, backoffMax: 5000 })
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
const { user, system } = process.cpuUsage()
const r = { docs: done, stored, ms: Math.round(ms), docsPerSec: Math.round((stored / ms) * 1000), cpuS: (user + system) / 1e6, trouble }
console.log(JSON.stringify(r))
if (trouble || (expected && stored < Number(expected))) process.exitCode = 1

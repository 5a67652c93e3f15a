// A long-lived Node.js thin-client writer (npm apache-ignite-client) for the chaos suite: another
// application writing synchub documents straight into a data cache while nodes die and restart.
// Usage: node chaoswrite.mjs <host:port>[,<host:port>...]
// stdin, one JSON object per line: {"n": 1, "op": "put"|"del", "cache": "...", "type": "...",
//   "key": "...", "v": 7, "by": "node"}   (values: binary objects of <type> with v long, by string)
// stdout, one line per request: {"n": 1, "ok": true} or {"n": 1, "error": "..."}.
// A request that fails on a lost connection is answered with its error (it may or may not have
// been applied, as for any client); the next request connects again (to any listed node).
import readline from 'node:readline'
import IgniteClient from 'apache-ignite-client'

const { IgniteClientConfiguration, ObjectType, ComplexObjectType } = IgniteClient

const endpoints = (process.argv[2] || '').split(',').filter(Boolean)
if (!endpoints.length) {
  console.error('usage: node chaoswrite.mjs <host:port>[,<host:port>...]')
  process.exit(2)
}

class Doc {
  constructor(v = 0, by = '') {
    this.v = v
    this.by = by
  }
}

/** @type {any} */
let client = null
const types = new Map()

async function connected() {
  if (client) return client
  const c = new IgniteClient()
  await c.connect(new IgniteClientConfiguration(...endpoints))
  client = c
  return c
}

function drop() {
  if (client) {
    try {
      client.disconnect()
    } catch {}
  }
  client = null
}

function docType(name) {
  let t = types.get(name)
  if (!t) {
    t = new ComplexObjectType(new Doc(), name)
      .setFieldType('v', ObjectType.PRIMITIVE_TYPE.LONG)
      .setFieldType('by', ObjectType.PRIMITIVE_TYPE.STRING)
    types.set(name, t)
  }
  return t
}

async function apply(req) {
  const c = await connected()
  const cache = c.getCache(req.cache).setKeyType(ObjectType.PRIMITIVE_TYPE.STRING).setValueType(docType(req.type))
  if (req.op === 'put') await cache.put(req.key, new Doc(req.v, req.by))
  else if (req.op === 'del') await cache.removeKey(req.key)
  else throw new Error(`unknown op ${req.op}`)
}

const timeout = (ms) => new Promise((_, rej) => setTimeout(() => rej(new Error(`no answer from Ignite in ${ms} ms`)), ms))

const rl = readline.createInterface({ input: process.stdin })
// one request at a time, in order (as one application thread would write)
let chain = Promise.resolve()
rl.on('line', (line) => {
  if (!line.trim()) return
  chain = chain.then(async () => {
    let req
    try {
      req = JSON.parse(line)
      await Promise.race([apply(req), timeout(15000)])
      process.stdout.write(JSON.stringify({ n: req.n, ok: true }) + '\n')
    } catch (e) {
      drop()
      process.stdout.write(JSON.stringify({ n: req?.n ?? null, error: String(e?.message ?? e) }) + '\n')
    }
  })
})
rl.on('close', () => chain.then(() => drop()))

// Development stand-in for the hub's HTTP side: serves demo/ at /, src/ at /src/, msgpack at
// /vendor/msgpack/ and the fake hub at /sync, plus a "metrics" writer. Lets the browser tests and
// the benchmark run before the real hub exists:  node test/helpers/dev-server.js [port]
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { startFakeHub } from './fake-hub.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const mounts = [
  ['/src/', path.join(root, 'src')],
  ['/vendor/msgpack/', path.join(root, 'node_modules/@msgpack/msgpack/dist.esm')],
  ['/', path.join(root, 'demo')],
]
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.map': 'application/json' }

export async function startDevServer(port = 0) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x')
    let p = decodeURIComponent(url.pathname)
    if (p === '/') p = '/index.html'
    const [prefix, dir] = mounts.find(([m]) => p.startsWith(m))
    const file = path.join(dir, p.slice(prefix.length))
    if (!file.startsWith(dir)) return res.writeHead(403).end()
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' })
      res.end(body)
    } catch {
      res.writeHead(404).end('not found')
    }
  })
  const hub = await startFakeHub({ server, pingMs: 5000, maxBatch: 500 })
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  const units = { cpu: '%', mem: 'MB', rps: 'req/s' }
  const timer = setInterval(() => {
    for (const [id, unit] of Object.entries(units)) hub.write('metrics', id, { value: Math.round(Math.random() * 1000) / 10, unit })
  }, 1000)
  return {
    base,
    hub,
    close: async () => {
      clearInterval(timer)
      await hub.close()
      server.closeAllConnections?.()
      await new Promise((r) => server.close(r))
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startDevServer(Number(process.argv[2] || 8765))
  console.log(`dev server on ${s.base} (fake hub at /sync)`)
}

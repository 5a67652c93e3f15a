// Browser clients of the chaos driver (driver.mjs): one headless Chromium per driver (Debian's
// /usr/bin/chromium through playwright-core), launched on the first `open {browser: true}`, one
// context for all of them (one origin: IndexedDB survives close + open), one page per open client.
// A small HTTP server on 127.0.0.1 serves src/, the ESM build of @msgpack/msgpack, the page
// harness (harness.js) and a blank page whose import map resolves `@msgpack/msgpack`.
import http from 'node:http'
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run']

const ROOT = fileURLToPath(new URL('../../', import.meta.url)) // client-js/
/** URL prefix → directory served under it */
const MOUNTS = {
  '/src/': path.join(ROOT, 'src'),
  '/msgpack/': path.join(ROOT, 'node_modules/@msgpack/msgpack/dist.esm'),
  '/chaos/': path.join(ROOT, 'test/chaos'),
}
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>chaos client</title>
<script type="importmap">{"imports": {"@msgpack/msgpack": "/msgpack/index.mjs"}}</script>
`
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' }

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
async function serve(req, res) {
  const url = new URL(req.url ?? '/', 'http://x')
  // one driver serves one checkout: the pages of its context may cache what they load
  res.setHeader('cache-control', 'max-age=86400')
  if (url.pathname === '/' || url.pathname === '/index.html') {
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.end(PAGE)
    return
  }
  for (const [prefix, dir] of Object.entries(MOUNTS)) {
    if (!url.pathname.startsWith(prefix)) continue
    const file = path.join(dir, decodeURIComponent(url.pathname.slice(prefix.length)))
    const type = TYPES[path.extname(file)]
    if (!file.startsWith(dir + path.sep) || !type) break
    try {
      const body = await readFile(file)
      res.setHeader('content-type', type + '; charset=utf-8')
      res.end(body)
    } catch {
      break
    }
    return
  }
  res.statusCode = 404
  res.end('not found')
}

/**
 * @typedef {object} Sink where a browser client's events go (the driver's per-client state)
 * @property {(type: string, detail: any) => void} event a `{type, detail}` of `dump.events`
 * @property {(status: string) => void} status
 * @property {() => void} progress
 * @property {(...a: any[]) => void} log
 */

let signalsHandled = false
/** Exit on SIGTERM, SIGINT and SIGHUP as Node would without Chromium (128 + signal number). */
function onSignals() {
  if (signalsHandled) return
  signalsHandled = true
  for (const [sig, n] of /** @type {const} */ ([['SIGHUP', 1], ['SIGINT', 2], ['SIGTERM', 15]])) process.on(sig, () => process.exit(128 + n))
}

export class BrowserHost {
  /** @param {(...a: any[]) => void} log */
  constructor(log) {
    this.log = log
    /** @type {Promise<{browser: import('playwright-core').Browser, context: import('playwright-core').BrowserContext, base: string}> | null} */
    this.started = null
    /** @type {http.Server | null} */
    this.server = null
    this.closing = false
    /** @type {Set<BrowserClient>} */
    this.clients = new Set()
  }

  /** Start the server and the browser once (again after the browser died). */
  start() {
    if (!this.started) {
      this.started = this.#start()
      this.started.catch(() => (this.started = null))
    }
    return this.started
  }

  async #start() {
    const t0 = Date.now()
    if (!this.server) {
      const server = http.createServer((req, res) => {
        serve(req, res).catch((e) => {
          res.statusCode = 500
          res.end(String(e))
        })
      })
      await new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(Number(process.env.CHAOS_HTTP_PORT) || 0, '127.0.0.1', () => resolve(undefined))
      })
      this.server = server
    }
    const addr = /** @type {import('node:net').AddressInfo} */ (this.server.address())
    const base = `http://127.0.0.1:${addr.port}`
    // Playwright's own SIGTERM/SIGHUP handlers close the browser but leave the driver running:
    // ours exit, and Playwright's exit hook kills Chromium on the way out
    const { chromium } = await import('playwright-core') // 2 s to load: only when a browser client opens
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false })
    onSignals()
    const context = await browser.newContext()
    const started = { browser, context, base }
    browser.on('disconnected', () => {
      if (this.started) this.started = null
      if (this.closing) return
      this.log('chromium disconnected')
      for (const c of this.clients) {
        c.sink.event('uncaught', { message: 'browser disconnected', kind: 'crash' })
        c.lost('browser disconnected')
      }
    })
    this.log(`chromium ${browser.version()} up in ${Date.now() - t0} ms (playwright-core loaded, launched), serving ${base}`)
    return started
  }

  /**
   * A new page for a client, the harness loaded and the client opened in it.
   * @param {string} name @param {Sink} sink @param {object} args for the harness's `open`
   * @returns {Promise<{bc: BrowserClient, result: any}>}
   */
  async open(name, sink, args) {
    const { context, base } = await this.start()
    const page = await context.newPage()
    const bc = new BrowserClient(this, name, page, sink)
    args = { ...args, page: bc.pageId }
    try {
      await page.exposeFunction('__chaosEmit', (/** @type {string} */ line) => bc.onEmit(line))
      await page.goto(base + '/')
      await page.evaluate(() => import('/chaos/harness.js'))
      const result = await bc.call('open', args)
      return { bc, result }
    } catch (e) {
      await bc.kill()
      throw e
    }
  }

  async close() {
    this.closing = true
    const s = this.started
    this.started = null
    if (s) {
      try {
        const { browser } = await s
        await browser.close()
      } catch (e) {
        this.log('chromium close:', String(e))
      }
    }
    if (this.server) {
      this.server.closeAllConnections()
      await new Promise((r) => this.server?.close(() => r(undefined)))
      this.server = null
    }
  }
}

/** Harness errors (the client's own: a refused document…), answered as such. */
export class HarnessError extends Error {}

/** A client living in a page: the Node-side handle the driver's commands go through. */
export class BrowserClient {
  /**
   * @param {BrowserHost} host @param {string} name
   * @param {import('playwright-core').Page} page @param {Sink} sink
   */
  constructor(host, name, page, sink) {
    this.host = host
    this.name = name
    this.page = page
    this.sink = sink
    /** messages of the page's harness received (it numbers them from 1) */
    this.received = 0
    /** names the page's events in localStorage (harness.js `pastEvents`) */
    this.pageId = randomUUID()
    /** @type {string | null} why the page cannot answer any more */
    this.dead = null
    /** closed by the driver (not a crash) */
    this.closing = false
    /** @type {(() => void) | null} */
    this.onReceived = null
    host.clients.add(this)
    page.on('pageerror', (e) => {
      sink.log(name, 'pageerror:', e.stack || e.message)
      sink.event('uncaught', { message: e.message || String(e), kind: 'pageerror' })
    })
    page.on('console', (m) => {
      // Only the page's own console.error calls: those carry arguments. Chromium's messages about
      // the network ("WebSocket connection to … failed", what every refused connect logs) carry none.
      if (m.type() !== 'error' || m.args().length === 0) return
      sink.log(name, 'console.error:', m.text())
      sink.event('uncaught', { message: m.text(), kind: 'console' })
    })
    page.on('crash', () => {
      sink.event('uncaught', { message: 'page crashed', kind: 'crash' })
      this.lost('page crashed')
    })
    page.on('close', () => this.lost('page closed'))
  }

  /** @param {string} why */
  lost(why) {
    if (this.dead) return
    this.dead = why
    this.host.clients.delete(this)
    if (!this.closing) this.sink.log(this.name, why)
  }

  /** @param {string} line */
  onEmit(line) {
    let m
    try {
      m = JSON.parse(line)
    } catch {
      return
    }
    this.received = Math.max(this.received, m.n)
    if (m.kind === 'event') this.sink.event(m.payload.type, m.payload.detail)
    else if (m.kind === 'status') this.sink.status(m.payload)
    else if (m.kind === 'progress') this.sink.progress()
    this.onReceived?.()
  }

  /** Wait (at most `ms`) until every message the harness sent up to `n` arrived. @param {number} n */
  async caughtUp(n, ms = 2000) {
    const end = Date.now() + ms
    while (this.received < n && Date.now() < end && !this.dead) {
      await new Promise((r) => {
        const t = setTimeout(r, 20)
        this.onReceived = () => {
          clearTimeout(t)
          r(undefined)
        }
      })
      this.onReceived = null
    }
    if (this.received < n) this.sink.log(this.name, `only ${this.received} of ${n} page messages arrived`)
  }

  /**
   * Run a harness command in the page. @param {string} cmd @param {object} [args]
   * @returns {Promise<any>} its result; a harness error → HarnessError, a dead page → Error
   */
  async call(cmd, args = {}) {
    if (this.dead) throw new Error(`browser client '${this.name}': ${this.dead}`)
    let out
    try {
      out = await this.page.evaluate(([c, a]) => /** @type {any} */ (globalThis).chaosHarness.call(c, a), [cmd, JSON.stringify(args)])
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(e)
      throw new Error(`browser client '${this.name}': ${cmd}: ${msg}`)
    }
    const r = JSON.parse(out)
    if (!r.ok) throw new HarnessError(r.error)
    return r.result
  }

  /** Test hook: crash the page's renderer (as an out-of-memory kill would), wait for the news. */
  async crash() {
    if (this.dead) return
    const crashed = new Promise((r) => this.page.once('crash', r))
    const cdp = await this.page.context().newCDPSession(this.page)
    cdp.send('Page.crash').catch(() => {}) // never answered: the renderer is gone
    await Promise.race([crashed, new Promise((r) => setTimeout(r, 5000))])
  }

  /** Close the page: the tab is gone (nothing of the client runs, its sockets die with it). */
  async kill() {
    this.closing = true
    this.host.clients.delete(this)
    try {
      await this.page.close({ runBeforeUnload: false })
    } catch (e) {
      this.sink.log(this.name, 'page close:', String(e))
    }
  }

  /** Let the events already sent arrive (the page may still be alive), then kill the page. */
  async killAfterEvents() {
    if (!this.dead) {
      try {
        const { emitted } = await this.call('emitted')
        await this.caughtUp(emitted, 5000)
      } catch {}
    }
    await this.kill()
  }
}

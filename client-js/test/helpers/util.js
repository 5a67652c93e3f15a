import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import WebSocket from 'ws'
import { SyncClient } from '../../src/index.js'

export { IDBFactory }

/** Poll `fn` until it returns a truthy value. */
export async function waitFor(fn, { timeout = 5000, interval = 10, what = 'condition' } = {}) {
  const end = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, interval))
  }
}

/** Collect CustomEvent details of `type` from a client. */
export function record(client, type) {
  const out = []
  client.addEventListener(type, (e) => out.push(e.detail))
  return out
}

export function makeClient(url, opts = {}) {
  return new SyncClient({
    url,
    dbName: 'db',
    token: 'dev',
    WebSocket,
    indexedDB: new IDBFactory(),
    locks: null,
    BroadcastChannel: null,
    events: null,
    document: null,
    backoffMin: 10,
    backoffMax: 100,
    ...opts,
  })
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Minimal Web Locks stand-in: exclusive locks, FIFO, abortable while waiting. */
export function fakeLocks() {
  const tails = new Map()
  return {
    request(name, opts, cb) {
      const prev = tails.get(name) || Promise.resolve()
      let release
      const mine = new Promise((r) => (release = r))
      tails.set(name, prev.then(() => mine))
      return prev.then(async () => {
        try {
          if (opts.signal?.aborted) throw new DOMException('aborted', 'AbortError')
          return await cb({ name })
        } finally {
          release()
        }
      })
    },
  }
}

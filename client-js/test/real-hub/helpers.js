// Shared set-up for the suites that run against a real hub (and a real Ignite node behind it).
// SYNCHUB_URL is required: these tests fail without it, they never skip.
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { makeClient } from '../helpers/util.js'

export { waitFor, record, IDBFactory, sleep } from '../helpers/util.js'

const raw = process.env.SYNCHUB_URL
assert.ok(raw, 'SYNCHUB_URL must point at a running hub (http(s)://host:port or ws(s)://host:port/sync)')

/** The hub's WebSocket endpoint derived from SYNCHUB_URL. */
export const SYNC_URL = (() => {
  const u = new URL(raw)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  if (u.protocol === 'https:') u.protocol = 'wss:'
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/sync'
  return u.toString()
})()

/** A prefix unique to this run so repeated runs against one Ignite node do not collide. */
export const RUN = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** An address nothing listens on: a client made with it stays offline. */
export const NOWHERE = 'ws://127.0.0.1:9/sync'

/**
 * WebSocket subclass that records the sockets it opens, so a test can kill one mid-batch
 * (e.g. right after the first `mut` frame leaves, before its ack).
 */
export function trackingWebSocket() {
  const sockets = []
  const hooks = { afterMut: null, frames: [] }
  class Tracked extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest)
      sockets.push(this)
    }
    send(data, ...rest) {
      super.send(data, ...rest)
      // mut frames start with a fixmap holding t: "mut"
      if (hooks.afterMut && Buffer.from(data).includes(Buffer.from([0xa1, 0x74, 0xa3, 0x6d, 0x75, 0x74]))) {
        const fn = hooks.afterMut
        hooks.afterMut = null
        fn(this)
      }
    }
  }
  return { WebSocket: Tracked, sockets, hooks }
}

/** @param {object} [opts] */
export function client(opts = {}) {
  return makeClient(SYNC_URL, { dbName: 'real-' + Math.random(), backoffMin: 50, backoffMax: 1000, ...opts })
}

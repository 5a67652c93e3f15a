// Against the real hub: batched messages (docs/protocol.md "Batches"). The hub batches what waits in
// a connection's send queue; it waits there when the client does not read. So the reading client's
// socket is paused while another client writes several megabytes (more than the kernel buffers
// hold: the hub's send blocks) and then many small commits (frames that queue behind it), then
// resumed: the queued frames arrive in batches, and the reader must end with exactly the documents
// and versions the writer holds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { openStore } from '../../src/store.js'
import { client, RUN, waitFor, record, IDBFactory } from './helpers.js'

/** msgpack's first byte of an array: fixarray, array 16, array 32. */
const isArray = (/** @type {number} */ b) => (b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd

/** A WebSocket whose messages are counted (batches and their frames) before the client sees them. */
function countingWebSocket() {
  const seen = { messages: 0, batches: 0, batchedFrames: 0 }
  /** @type {WebSocket[]} */
  const sockets = []
  class Counting extends WebSocket {
    constructor(/** @type {any[]} */ ...args) {
      super(...args)
      sockets.push(this)
    }
    get onmessage() {
      return super.onmessage
    }
    set onmessage(fn) {
      super.onmessage = fn && ((/** @type {any} */ ev) => {
        const b = new Uint8Array(ev.data)
        seen.messages++
        if (isArray(b[0])) {
          seen.batches++
          seen.batchedFrames += b[0] === 0xdc ? (b[1] << 8) | b[2] : b[0] === 0xdd ? new DataView(ev.data).getUint32(1) : b[0] & 0x0f
        }
        fn(ev)
      })
    }
  }
  return { WebSocket: Counting, seen, sockets }
}

/** Every record of `coll` in a client database whose id starts with `prefix`: id -> [ver, doc]. */
async function records(/** @type {IDBFactory} */ idb, /** @type {string} */ dbName, /** @type {string} */ coll, /** @type {string} */ prefix) {
  const store = await openStore(idb, dbName, () => {})
  try {
    const all = await store.run(['docs'], 'readonly', (tx) => new Promise((res, rej) => {
      const r = tx.objectStore('docs').getAll()
      r.onsuccess = () => res(r.result)
      r.onerror = () => rej(r.error)
    }))
    return new Map(/** @type {any[]} */ (all).filter((r) => r.c === coll && r.id.startsWith(prefix)).map((r) => [r.id, [r.ver, r.doc, r.pend]]))
  } finally {
    store.close()
  }
}

test('a client that stopped reading catches up through batched messages to exactly the written documents and versions', { timeout: 120000 }, async (t) => {
  // 6 MB: more than the kernel holds for a reader that stopped (about 4 MB here), less than that
  // plus the hub's queue (4 MB: beyond it live frames give way to a catch-up)
  const BIG = 60
  const pad = 'x'.repeat(100_000)
  const SMALL = 60 // one commit each: small frames that queue behind the blocked send
  const prefix = `${RUN}-batch-`
  const cw = countingWebSocket()
  const idbA = new IDBFactory()
  const idbB = new IDBFactory()
  const a = client({ WebSocket: cw.WebSocket, indexedDB: idbA, dbName: 'batch-a' })
  const b = client({ indexedDB: idbB, dbName: 'batch-b' })
  t.after(() => Promise.all([a.close(), b.close()]))
  const errors = record(a, 'error')
  a.collection('bench')
  const wb = b.collection('bench')
  await waitFor(() => a.status === 'live' && b.status === 'live', { timeout: 20000, what: 'both live' })
  assert.equal(cw.sockets.length, 1)
  const before = cw.seen.messages

  const ws = cw.sockets[0]
  ws.pause()
  await Promise.all(Array.from({ length: BIG }, (_, i) => wb.put({ id: prefix + i, i, pad })))
  await b.flush()
  // the hub's writer now waits on the full socket; each of these commits is a frame of its own
  // that queues behind it. Some overwrite big documents (the reader must end at their last version).
  for (let j = 0; j < SMALL; j++) {
    await wb.put({ id: prefix + (j % 3 ? 's' + j : j), j })
    await b.flush()
  }
  await wb.delete(prefix + 1)
  await b.flush()
  assert.equal(cw.seen.messages, before, 'the paused socket delivered nothing')
  ws.resume()

  /** @type {Map<string, object>} what the writer holds */
  const want = new Map((await wb.getAll()).filter((d) => d.id.startsWith(prefix)).map((d) => [d.id, d]))
  assert.equal(want.size, BIG - 1 + SMALL - SMALL / 3)
  const mine = async () => new Map((await a.collection('bench').getAll()).filter((d) => d.id.startsWith(prefix)).map((d) => [d.id, d]))
  await waitFor(async () => {
    const got = await mine()
    return got.size === want.size && [...want].every(([id, d]) => JSON.stringify(got.get(id)) === JSON.stringify(d))
  }, { timeout: 60000, interval: 200, what: 'the reader to converge' })
  await waitFor(() => a.status === 'live', { timeout: 20000, what: 'reader live' })
  assert.deepEqual(await mine(), want)
  assert.deepEqual(errors, [])
  assert.equal(cw.sockets.length, 1, 'no reconnect: the batches came on the paused connection')
  t.diagnostic(JSON.stringify(cw.seen))
  assert.ok(cw.seen.batches >= 1, `batched messages: ${JSON.stringify(cw.seen)}`)
  assert.ok(cw.seen.batchedFrames >= 2 * cw.seen.batches)

  await a.close()
  const [ra, rb] = await Promise.all([records(idbA, 'batch-a', 'bench', prefix), records(idbB, 'batch-b', 'bench', prefix)])
  // the writer's records hold the versions its acks stored; the reader's those of the changes
  assert.equal(rb.size, want.size + 1)
  assert.deepEqual([...ra.keys()].filter((id) => !rb.has(id)), [])
  for (const [id, [ver, doc, pend]] of rb) {
    assert.equal(pend, 0, id)
    // a deleted document: a tombstone of the same version, or nothing (a snapshot leaves none)
    if (doc === null && !ra.has(id)) continue
    assert.deepEqual(ra.get(id), [ver, doc, 0], id)
  }
  // the big documents would slow every later snapshot of `bench` (and grow the next reader's buffers)
  await Promise.all([...want.keys()].map((id) => wb.delete(id)))
  await b.flush()
})

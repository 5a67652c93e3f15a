// Against the real hub: one browser (one IndexedDB factory) used by two users, and a first sync cut
// mid-snapshot that resumes from the last page stored.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { decode } from '@msgpack/msgpack'
import { client, RUN, NOWHERE, waitFor, record, IDBFactory, sleep } from './helpers.js'

const dec = (data) => decode(data, { useBigInt64: true })

/** A WebSocket class recording every frame the client sends and receives, decoded (a batch: its frames). */
function recording() {
  const sent = []
  const got = []
  class Recording extends WebSocket {
    constructor(...args) {
      super(...args)
      this.on('message', (data) => got.push(...[dec(data)].flat()))
    }
    send(data, ...rest) {
      sent.push(dec(data))
      super.send(data, ...rest)
    }
  }
  return { WebSocket: Recording, sent, got }
}

const mutIds = (sent) => sent.filter((m) => m.t === 'mut').flatMap((m) => m.batch.map((x) => x.id))

test("user B's client never sends user A's offline writes; A's are sent when A is back", { timeout: 60000 }, async (t) => {
  // dev auth: the token is the subject
  const alice = `alice-${RUN}`
  const bob = `bob-${RUN}`
  const idb = new IDBFactory()
  const dbName = 'users-' + RUN
  const a1 = `${RUN}-alice-offline`
  const offline = client({ url: NOWHERE, indexedDB: idb, dbName, user: alice, token: alice })
  await offline.collection('todos').put({ id: a1, by: 'alice' })
  await offline.close()

  const rb = recording()
  const b = client({ indexedDB: idb, dbName, user: bob, token: bob, WebSocket: rb.WebSocket })
  t.after(() => b.close())
  const bt = b.collection('todos')
  await waitFor(() => b.status === 'live', { timeout: 20000, what: 'bob live' })
  assert.equal(rb.got.find((m) => m.t === 'welcome').user, bob)
  assert.equal(await b.pendingCount(), 0)
  await bt.put({ id: `${RUN}-bob`, by: 'bob' })
  await b.flush()
  assert.deepEqual(mutIds(rb.sent), [`${RUN}-bob`], "only bob's own write went out")
  assert.equal(await bt.get(a1), undefined, "alice's document is not in bob's store")

  // alice's database with bob's token (a stale token in the app): stops before sending anything
  const rm = recording()
  const wrong = client({ indexedDB: idb, dbName, user: alice, token: bob, WebSocket: rm.WebSocket })
  const errors = record(wrong, 'error')
  wrong.collection('todos')
  await waitFor(() => errors.some((e) => e.kind === 'user-mismatch'), { timeout: 20000, what: 'user-mismatch' })
  assert.deepEqual(rm.sent.map((m) => m.t), ['hello'])
  assert.equal(await wrong.pendingCount(), 1, "alice's outbox is intact")
  await wrong.close()
  assert.equal(await bt.get(a1), undefined)

  const ra = recording()
  const back = client({ indexedDB: idb, dbName, user: alice, token: alice, WebSocket: ra.WebSocket })
  t.after(() => back.close())
  back.collection('todos')
  await back.flush()
  assert.deepEqual(mutIds(ra.sent), [a1])
  // now on the hub, it reaches bob like any shared document
  await waitFor(async () => (await bt.get(a1))?.by === 'alice', { timeout: 15000, what: 'alice doc at bob, from the hub' })
})

test('a first snapshot cut after two pages resumes from a stored page cursor', { timeout: 120000 }, async (t) => {
  const N = 1200 // three pages of 500
  const w = client()
  t.after(() => w.close())
  const bench = w.collection('bench')
  await Promise.all(Array.from({ length: N }, (_, i) => bench.put({ id: `${RUN}-p${i}`, i })))
  await w.flush()
  await sleep(1500) // let the watermark pass the writes, so page cursors are page ends

  const rc = recording()
  let cut = 0 // pages received when the socket was cut (two, or more when they came in one batch)
  class Cutting extends rc.WebSocket {
    constructor(...args) {
      super(...args)
      this.on('message', (data) => {
        const pages = rc.got.filter((m) => m.t === 'page').length
        if (!cut && pages >= 2) {
          cut = pages
          setTimeout(() => this.terminate(), 0)
        }
      })
    }
  }
  const c = client({ WebSocket: Cutting, indexedDB: new IDBFactory() })
  t.after(() => c.close())
  c.collection('bench')
  await waitFor(() => cut && c.status === 'live', { timeout: 60000, what: 'live after the cut' })
  const subs = rc.sent.filter((m) => m.t === 'sub')
  assert.equal(subs[0].cursor, null)
  const pageCursors = rc.got.filter((m) => m.t === 'page').slice(0, cut).map((p) => p.cursor)
  assert.ok(pageCursors.every((x) => x !== null), 'pages carry cursors')
  assert.ok(
    pageCursors.some((x) => x[0] === subs[1].cursor?.[0] && x[1] === subs[1].cursor?.[1]),
    `resumed from a page cursor: ${subs[1].cursor}`
  )
  const synced = rc.got.filter((m) => m.t === 'synced')
  assert.equal(synced.at(-1).mode, 'catchup')
  const mine = (await c.collection('bench').getAll()).filter((d) => d.id.startsWith(`${RUN}-p`))
  assert.equal(mine.length, N)
})

// IndexedDB out of space in real Chromium, against the hub: local writes that do not fit, hub
// changes (snapshot, live changes, acknowledgements) that do not fit, and how sync pauses and
// resumes. The origin gets a small quota through the DevTools protocol
// (`Storage.overrideQuotaForOrigin` on the page's session), sent before the page touches storage:
// Chromium fixes an origin's quota when its storage is first used, so a later override does
// nothing. `navigator.storage.estimate()` does not show the override (Chromium reports usage +
// 10 GiB), and Chromium compresses what it stores: the tests write random hex, and judge space by
// what commits (docs/testing.md, "A small IndexedDB quota in Chromium"). In Chromium a
// transaction over quota fails at commit (its requests succeeded; an `abort` event with `tx.error`
// QuotaExceededError), which is the path these tests take; the page records every aborted
// transaction to show it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASE, launch } from './helpers.js'
import { launchPersistent } from './helpers-launch.js'

const RUN = Date.now().toString(36)
const COLL = 'quota'
/** A document too big for the space the tests leave: 200,000 random hex characters. */
const BIG = 200000
const MB = 1e6

/**
 * Installed in the page as `globalThis.Q` (self-contained: it is sent as source). Space is
 * controlled with databases of the app's own (`cache`, `fill`): `fillTo` writes until the space
 * left is what the test wants, `drop` deletes a database, which frees its space at once.
 */
function pageHelpers() {
  const hex = (n) => {
    const b = new Uint8Array(n / 2)
    for (let o = 0; o < b.length; o += 65536) crypto.getRandomValues(b.subarray(o, o + 65536))
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  }
  const open = (name) =>
    new Promise((res, rej) => {
      const r = indexedDB.open(name)
      r.onupgradeneeded = () => r.result.createObjectStore('s', { autoIncrement: true })
      r.onsuccess = () => res(r.result)
      r.onerror = () => rej(r.error)
    })
  const dbs = new Map()
  /** One value in its own transaction: true once committed, false when the quota refused it. */
  const put = (db, v) =>
    new Promise((res, rej) => {
      const tx = db.transaction('s', 'readwrite')
      tx.objectStore('s').add(v)
      tx.oncomplete = () => res(true)
      tx.onabort = () => (tx.error?.name === 'QuotaExceededError' ? res(false) : rej(tx.error))
    })
  // every transaction that aborts, with whether a request of it had failed before
  const aborts = []
  const transaction = IDBDatabase.prototype.transaction
  IDBDatabase.prototype.transaction = function (...a) {
    const tx = transaction.apply(this, a)
    let failed = 0
    tx.addEventListener('error', () => failed++) // request errors bubble to the transaction
    tx.addEventListener('abort', () => aborts.push({ db: this.name, error: tx.error?.name ?? null, requestErrors: failed }))
    return tx
  }
  globalThis.Q = {
    hex,
    aborts,
    /** A database `name` holding `bytes` (values of at most 200 kB). */
    async cache(name, bytes) {
      const db = dbs.get(name) || (await open(name))
      dbs.set(name, db)
      for (let left = bytes; left > 0; left -= 200000) if (!(await put(db, hex(Math.min(left, 200000))))) throw new Error(`${name}: no room for ${bytes} B`)
    },
    /** Write into `name` until the quota refuses a 16 kB value: then less than that is left. */
    async fill(name) {
      const db = dbs.get(name) || (await open(name))
      dbs.set(name, db)
      let n = 0
      for (const size of [256000, 16000]) while (await put(db, hex(size))) n += size
      return n
    },
    /**
     * Write into `name` until about `left` bytes of the quota (`Q.quota`) are left (within 8 kB):
     * Chromium refuses a commit once usage (as `estimate()` reports it) plus the transaction's
     * size would pass the quota.
     */
    async fillTo(name, left) {
      const db = dbs.get(name) || (await open(name))
      dbs.set(name, db)
      for (let i = 0; i < Q.quota / 200000 + 50; i++) {
        const now = Q.quota - (await navigator.storage.estimate()).usage
        if (now <= left + 8000) return now
        const n = Math.min(now - left, 256000)
        if (!(await put(db, hex(n - (n % 2))))) throw new Error(`${name}: ${n} B refused with ${now} B left`)
      }
      throw new Error(`${name}: did not get down to ${left} B left`)
    },
    async drop(name) {
      dbs.get(name)?.close()
      dbs.delete(name)
      await new Promise((res, rej) => {
        const r = indexedDB.deleteDatabase(name)
        r.onsuccess = res
        r.onerror = () => rej(r.error)
      })
    },
    /**
     * A client of the hub on collection `coll`, counting the sockets it opens; `gate: true`:
     * it connects when `go()` is called. Records its `error` details and statuses.
     */
    async client(dbName, coll, gate = false) {
      const { SyncClient } = await import('/src/index.js')
      let go
      const gated = new Promise((r) => (go = r))
      if (!gate) go()
      const c = { sockets: 0, errors: [], statuses: [], go }
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
      c.client = new SyncClient({
        url: `${proto}//${location.host}/sync`,
        dbName,
        token: async () => (await gated, 'dev'),
        // a reconnect loop would show within a second
        backoffMin: 50,
        backoffMax: 20000,
        env: {
          WebSocket: class extends WebSocket {
            constructor(...a) {
              super(...a)
              c.sockets++
            }
          },
        },
      })
      c.client.addEventListener('error', (e) => {
        const { cause, ...rest } = e.detail
        c.errors.push({ ...rest, keys: Object.keys(e.detail).sort(), cause: cause?.name })
      })
      c.client.addEventListener('status', (e) => c.statuses.push(e.detail.newStatus))
      c.coll = c.client.collection(coll)
      return c
    },
    /** What the client database `dbName` holds for `coll`: cursor (JSON), outbox seqs, document ids, versions by id. */
    async inspect(dbName, coll) {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(dbName)
        r.onsuccess = () => res(r.result)
        r.onerror = () => rej(r.error)
      })
      const tx = db.transaction(['meta', 'outbox', 'docs'], 'readonly')
      const get = (r) => new Promise((res, rej) => ((r.onsuccess = () => res(r.result)), (r.onerror = () => rej(r.error))))
      const [cursor, outbox, docs] = await Promise.all([
        get(tx.objectStore('meta').get('cur:' + coll)),
        get(tx.objectStore('outbox').getAll()),
        get(tx.objectStore('docs').getAll(IDBKeyRange.bound([coll], [coll, []]))),
      ])
      db.close()
      return {
        cursor: JSON.stringify(cursor ?? null, (k, v) => (typeof v === 'bigint' ? v + 'n' : v)),
        outbox: outbox.map((e) => ({ seq: e.seq, id: e.id, size: e.doc?.blob?.length ?? 0 })),
        docs: docs.filter((r) => r.doc).map((r) => ({ id: r.id, pend: r.pend, size: r.doc.blob?.length ?? 0 })),
        vers: Object.fromEntries(docs.map((r) => [r.id, String(r.ver)])),
      }
    },
  }
}

/**
 * Load a static file the hub serves (a made-up document could not open a socket to a local
 * address), map `@msgpack/msgpack` as the demo does, and install the helpers.
 */
async function open(page) {
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/src/types.js')
  await page.evaluate(() => {
    const map = Object.assign(document.createElement('script'), { type: 'importmap' })
    map.textContent = JSON.stringify({ imports: { '@msgpack/msgpack': '/vendor/msgpack/index.mjs' } })
    document.head.append(map)
  })
  await page.evaluate(pageHelpers)
}

/**
 * A page of the hub's origin in a browser of its own, whose quota is `quota` bytes: the override
 * is sent on the page's session before the page loads (and the session kept: the override lasts
 * while it is attached). The profile is on disk (a fresh directory, removed afterwards): in the
 * in-memory storage of an ordinary Playwright context, Chromium 156 goes on counting a transaction
 * the quota refused when the next one starts at once, and the origin stays full.
 */
async function quotaPage(t, quota) {
  const dir = mkdtempSync(join(tmpdir(), 'synchub-quota-'))
  const context = await launchPersistent(dir)
  t.after(async () => {
    await context.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const cdp = await context.newCDPSession(page)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(BASE).origin, quotaSize: quota })
  await open(page)
  // the override holds: a database bigger than the quota does not fit
  assert.equal(await page.evaluate(async (q) => {
    const n = await Q.fill('probe')
    await Q.drop('probe')
    return n < q
  }, quota), true, `Storage.overrideQuotaForOrigin(${quota}) had no effect`)
  await page.evaluate((q) => (Q.quota = q), quota)
  page.cdp = cdp
  return page
}

/** A page without a quota override, with a client writing `coll` through the hub. */
async function writer(browser, name) {
  const page = await (await browser.newContext()).newPage()
  await open(page)
  await page.evaluate(async ([name, coll]) => (globalThis.W = await Q.client(name, coll)), [name, COLL])
  await page.waitForFunction(() => W.client.status === 'live', null, { timeout: 20000 })
  return page
}

/**
 * The quota for a browser that syncs the collection (as the writer `W` holds it) and has
 * `room` bytes besides: the tests do not depend on what other tests left in the collection.
 */
const quotaFor = async (W, room) => 2 * (await W.evaluate(async () => (await W.coll.getAll()).reduce((n, d) => n + (d.blob?.length ?? 0) + 1000, 0))) + room

/** Wait until the client `c` (a page global) has status `s`; the error says what it had. */
async function status(page, s, c = 'L') {
  try {
    await page.waitForFunction(([s, c]) => globalThis[c].client.status === s, [s, c], { timeout: 30000 })
  } catch {
    const { statuses, errors } = await page.evaluate((c) => globalThis[c], c)
    assert.fail(`expected status ${s}, have ${statuses.at(-1)}: ${statuses.length} statuses (last ${statuses.slice(-8)}), ${errors.length} errors (first ${JSON.stringify(errors.slice(0, 2))})`)
  }
}

/** The aborted transactions of database `db` in `page`. */
const aborts = (page, db) => page.evaluate((db) => Q.aborts.filter((a) => a.db === db), db)

/**
 * Poll `fn(arg)` in the page until it gives a truthy value (an async `fn` is awaited: Playwright's
 * `waitForFunction` takes a returned promise as its truthy answer and does not wait).
 */
async function until(page, fn, arg, timeout = 20000) {
  const deadline = Date.now() + timeout
  for (;;) {
    const v = await page.evaluate(fn, arg)
    if (v) return v
    if (Date.now() > deadline) throw new Error(`not reached within ${timeout} ms: ${fn}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Let `ms` pass: what must not happen (a reconnect) would have happened by then. */
const quiet = (ms) => new Promise((r) => setTimeout(r, ms))

test('quota exhausted: the local write that does not fit rejects alone, the writes queued with it commit and sync', { timeout: 120000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 'w' + RUN
  const db = 'quota-w-' + run
  const W = await writer(browser, 'quota-w-writer-' + run)
  const L = await quotaPage(t, await quotaFor(W, 4 * MB))
  await L.evaluate(async ([db, coll]) => (globalThis.L = await Q.client(db, coll)), [db, COLL])
  await status(L, 'live')
  // 100 kB left: room for small writes, not for a 200 kB document (and its outbox entry)
  await L.evaluate(() => Q.fillTo('fill', 100000))
  const got = await L.evaluate(async ([run, big]) => {
    const settled = await Promise.allSettled([
      L.coll.put({ id: run + '-a', run }),
      L.coll.put({ id: run + '-huge', run, blob: Q.hex(big) }),
      L.coll.put({ id: run + '-b', run }),
    ])
    globalThis.handles = settled.map((s) => s.value)
    return settled.map((s) => (s.status === 'fulfilled' ? { seq: s.value.seq } : { error: s.reason.name, message: s.reason.message }))
  }, [run, BIG])
  assert.ok(got[0].seq > 0 && got[2].seq > got[0].seq, JSON.stringify(got))
  assert.equal(got[1].error, 'QuotaExceededError', JSON.stringify(got))
  // one `error` event, of the one SyncError shape
  const errors = await L.evaluate(() => L.errors)
  assert.equal(errors.length, 1, JSON.stringify({ got, errors }))
  const { keys, ...err } = errors[0]
  // Chromium's QuotaExceededError has no message: the event names the error instead
  assert.deepEqual(err, { kind: 'quota', code: 0, message: 'QuotaExceededError', retry: false, fatal: false, cause: 'QuotaExceededError' })
  assert.deepEqual(keys, ['cause', 'code', 'fatal', 'kind', 'message', 'retry'])
  // the quota refused the transactions at commit, not at put(): the batch of three, then `huge` alone
  const refused = await aborts(L, db)
  assert.deepEqual(refused, [
    { db, error: 'QuotaExceededError', requestErrors: 0 },
    { db, error: 'QuotaExceededError', requestErrors: 0 },
  ], JSON.stringify({ got, refused }))
  // nothing of `huge` is kept; `a` and `b` are, and reach the hub
  const held = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  assert.deepEqual(held.outbox.filter((e) => e.id === run + '-huge'), [])
  assert.deepEqual(held.docs.filter((d) => d.id.startsWith(run)).map((d) => d.id).sort(), [run + '-a', run + '-b'])
  const verdicts = await L.evaluate(async () => {
    await L.client.flush()
    return Promise.all([handles[0].result, handles[2].result]).then((rs) => rs.map((r) => r.status))
  })
  assert.deepEqual(verdicts, ['applied', 'applied'])
  // the hub pushes them to the other browser after acknowledging them: wait for that push, then
  // check that `huge` never went out (an ack does not mean the push has arrived yet)
  await until(W, (run) => Promise.all(['a', 'b'].map((k) => W.coll.get(run + '-' + k))).then((ds) => ds.every(Boolean)), run)
  const seen = await W.evaluate(async (run) => Promise.all(['a', 'huge', 'b'].map((k) => W.coll.get(run + '-' + k).then((d) => !!d))), run)
  assert.deepEqual(seen, [true, false, true])
  assert.equal(await L.evaluate(() => L.client.status), 'live')
})

test('hub changes bigger than the space left pause sync (no reconnect loop) until the app frees space', { timeout: 180000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 'r' + RUN
  const db = 'quota-r-' + run
  const W = await writer(browser, 'quota-r-writer-' + run)
  const write = (ids) =>
    W.evaluate(async ([ids, big]) => {
      await Promise.all(ids.map((id) => W.coll.put({ id, blob: Q.hex(big) })))
      await W.client.flush()
    }, [ids, BIG])
  const snapshot = [0, 1, 2, 3].map((i) => `${run}-s${i}`)
  await write(snapshot)

  // a browser whose space left (50 kB; a cache of the app's aside as big as the collection and
  // 1 MB) is smaller than the snapshot
  const quota = await quotaFor(W, 4 * MB)
  const L = await quotaPage(t, quota)
  await L.evaluate(async (cache) => {
    await Q.cache('cache', cache)
    await Q.fillTo('fill', 50000)
  }, Math.round((quota - 4 * MB) / 2 + MB))
  await L.evaluate(async ([db, coll]) => (globalThis.L = await Q.client(db, coll)), [db, COLL])
  await status(L, 'paused')
  const paused = await L.evaluate(() => ({ errors: L.errors, sockets: L.sockets }))
  assert.equal(paused.errors.length, 1, JSON.stringify(paused.errors))
  const { keys, ...err } = paused.errors[0]
  assert.deepEqual(err, { kind: 'quota', code: 0, message: 'QuotaExceededError', retry: true, fatal: false, cause: 'QuotaExceededError' })
  assert.equal(paused.sockets, 1)
  await quiet(2000) // the reconnect backoff starts at 50 ms: a loop would have opened sockets by now
  assert.deepEqual(await L.evaluate(() => ({ status: L.client.status, sockets: L.sockets, errors: L.errors.length })), {
    status: 'paused', sockets: 1, errors: 1,
  })
  assert.ok((await aborts(L, db)).every((a) => a.error === 'QuotaExceededError' && a.requestErrors === 0))
  // local writes go on while paused (they fit) and wait for the hub
  await L.evaluate((run) => L.coll.put({ id: run + '-p' }).then((h) => (globalThis.p = h)), run)

  // the app deletes its cache and resumes: the snapshot and the write go through
  await L.evaluate(async () => {
    await Q.drop('cache')
    L.client.reconnect()
  })
  await status(L, 'live')
  assert.equal(await L.evaluate(() => p.result.then((r) => r.status)), 'applied')
  const held = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  for (const id of snapshot) assert.equal(held.docs.find((d) => d.id === id)?.size, BIG, id)
  assert.equal(await L.evaluate(() => L.sockets), 2)

  // a live change bigger than the space left: paused, nothing of it stored, the cursor where it was
  // (Chromium's check at commit is not exact to the byte: the change is ten times the space left)
  await L.evaluate(() => Q.fillTo('fill', 20000))
  const x = run + '-x'
  await write([x])
  await status(L, 'paused')
  const during = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  assert.equal(during.docs.find((d) => d.id === x), undefined)
  assert.equal(during.docs.length, held.docs.length)
  await quiet(2000)
  assert.deepEqual(await L.evaluate(() => ({ status: L.client.status, sockets: L.sockets, errors: L.errors.length })), { status: 'paused', sockets: 2, errors: 2 })
  // space freed: the change arrives, the cursor moves on
  await L.evaluate(async () => {
    await Q.drop('fill')
    L.client.reconnect()
  })
  await status(L, 'live')
  await until(L, (x) => L.coll.get(x).then((d) => d?.blob.length), x)
  // the paused client's cursor had not passed the change it could not store (it may have moved
  // before it: a settle frame carries a cursor without changes), and now has
  const after = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  const ver = (c) => BigInt(JSON.parse(c)[1].slice(0, -1))
  const xv = BigInt(after.vers[x])
  assert.ok(ver(during.cursor) < xv, `cursor ${during.cursor} while paused, the change at ${xv}`)
  assert.ok(ver(after.cursor) >= xv, `cursor ${after.cursor} after it, the change at ${xv}`)
})

test('an acknowledgement that fails at commit leaves the outbox as it was; it is replayed once space is freed', { timeout: 180000 }, async (t) => {
  const browser = await launch()
  t.after(() => browser.close())
  const run = 'a' + RUN
  const db = 'quota-a-' + run
  const W = await writer(browser, 'quota-a-writer-' + run)
  const L = await quotaPage(t, await quotaFor(W, 4 * MB))
  // first sync (whatever the collection holds), then a client of the same database that
  // connects when told: a 200 kB write stored while it has room
  await L.evaluate(async ([db, coll]) => {
    const first = await Q.client(db, coll)
    await first.client.flush()
    await new Promise((r) => (first.client.status === 'live' ? r() : first.client.addEventListener('status', () => first.client.status === 'live' && r())))
    await first.client.close()
    globalThis.L = await Q.client(db, coll, true)
  }, [db, COLL])
  const id = run + '-big'
  const seq = await L.evaluate(async ([id, big]) => {
    globalThis.h = await L.coll.put({ id, blob: Q.hex(big) })
    h.result.then(() => (h.settled = true))
    return h.seq
  }, [id, BIG])
  // 40 kB left: the acknowledgement's transaction (the document again) will not fit
  await L.evaluate(async () => {
    await Q.cache('cache', 600000)
    await Q.fillTo('fill', 40000)
    L.go()
  })
  await status(L, 'paused')
  // the hub applied it; the client kept the outbox entry and its pending document
  await until(W, (id) => W.coll.get(id).then((d) => d?.blob.length), id)
  const held = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  assert.deepEqual(held.outbox, [{ seq, id, size: BIG }])
  assert.deepEqual(held.docs.find((d) => d.id === id), { id, pend: 1, size: BIG })
  assert.equal(await L.evaluate(() => !!h.settled), false)
  const refused = await aborts(L, db)
  assert.ok(refused.length >= 1 && refused.every((a) => a.error === 'QuotaExceededError' && a.requestErrors === 0), JSON.stringify(refused))
  const errors = await L.evaluate(() => L.errors.map((e) => [e.kind, e.retry, e.fatal]))
  assert.deepEqual(errors, [['quota', true, false]])

  // space freed: sent again, the hub recognises the replay, the outbox empties
  await L.evaluate(async () => {
    await Q.drop('cache')
    L.client.reconnect()
  })
  await status(L, 'live')
  assert.equal(await L.evaluate(() => h.result.then((r) => r.status)), 'applied')
  await L.evaluate(() => L.client.flush())
  const after = await L.evaluate(([db, coll]) => Q.inspect(db, coll), [db, COLL])
  assert.deepEqual(after.outbox, [])
  assert.deepEqual(after.docs.find((d) => d.id === id), { id, pend: 0, size: BIG })
})

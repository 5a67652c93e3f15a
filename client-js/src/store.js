/**
 * IndexedDB adapter: documents, outbox and cursors of one client database.
 * Every change to documents commits in the same transaction as the outbox entry or cursor that
 * goes with it. Promise wrappers in the style of the platform: no Proxies.
 */
import { localWrite, remoteChange, ackWrite } from './core/records.js'
import { mergeCursor } from './core/cursor.js'
import { verdict, syncError } from './core/errors.js'
import {
  DOCS, OUTBOX as OUT, META, DOC_KEY_PATH, OUTBOX_KEY_PATH, OUTBOX_BY_DOC, CLOCK_KEY, CLIENT_KEY,
  docKey, docTag, collBounds, cursorKey,
} from './core/keys.js'

/** @typedef {import('./core/records.js').Doc} Doc */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/** @typedef {import('./core/records.js').OutboxEntry} OutboxEntry */
/** @typedef {import('./core/records.js').AckResult} AckResult */
/** @typedef {import('./core/cursor.js').Cursor} Cursor */
/** @typedef {import('./core/messages.js').Change} Change */
/** @typedef {{type: 'put' | 'delete', coll: string, id: string, doc: Doc | null}} StoredChange */
/** @typedef {import('./types.js').Conflict} Conflict */
/** @typedef {import('./types.js').WriteResult} WriteResult */

/**
 * @template T
 * @param {IDBRequest<T>} r
 * @returns {Promise<T>}
 */
export function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
}

/**
 * `req` for reads issued ahead and awaited later: a failure aborts the transaction anyway, so the
 * reads never awaited must not surface as unhandled rejections.
 * @template T
 * @param {IDBRequest<T>} r
 * @returns {Promise<T>}
 */
function ahead(r) {
  const p = req(r)
  p.catch(() => {})
  return p
}

/**
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = tx.onabort = () => reject(tx.error || new DOMException('transaction aborted', 'AbortError'))
  })
}

/** @param {string} c */
const collRange = (c) => IDBKeyRange.bound(...collBounds(c))

/**
 * @param {StoredChange[]} out
 * @param {DocRecord} rec
 */
const pushChange = (out, rec) =>
  out.push({ type: rec.doc ? 'put' : 'delete', coll: rec.c, id: rec.id, doc: rec.doc })

/**
 * Create the base layout (version 1) in a new database: `docs`, `outbox` (with its `doc` index)
 * and `meta`. Later versions only add indexes (`synchub-client/query`).
 * @param {IDBDatabase} db
 */
export function createLayout(db) {
  db.createObjectStore(DOCS, { keyPath: DOC_KEY_PATH })
  db.createObjectStore(OUT, { keyPath: OUTBOX_KEY_PATH }).createIndex(OUTBOX_BY_DOC, DOC_KEY_PATH)
  db.createObjectStore(META)
}

/**
 * @typedef {object} Schema what `indexes()` of `synchub-client/query` hands to the client
 * @property {(factory: IDBFactory, name: string) => Promise<IDBDatabase>} open opens the database
 *   at whatever version holds the declared indexes (upgrading it when needed)
 * @property {(rec: DocRecord) => DocRecord} dress adds the derived index keys to a record before it is stored
 */

/** @type {Schema} the base layout, no query indexes */
const PLAIN = {
  open(factory, name) {
    const r = factory.open(name)
    r.onupgradeneeded = () => createLayout(r.result)
    return req(r)
  },
  dress: (r) => r,
}

/**
 * Open (creating if needed) the client database. Opened at its current version: query indexes
 * (`schema`) raise it above 1.
 * @param {IDBFactory} factory
 * @param {string} name
 * @param {() => void} onVersionChange called after another context asked to upgrade or delete
 *   the database; the connection is closed by then
 * @param {Schema | null} [schema]
 * @returns {Promise<Store>}
 */
export async function openStore(factory, name, onVersionChange, schema) {
  schema ||= PLAIN
  const db = await schema.open(factory, name)
  db.onversionchange = () => {
    db.close()
    onVersionChange()
  }
  return new Store(db, schema.dress)
}

export class Store {
  /**
   * @param {IDBDatabase} db
   * @param {(rec: DocRecord) => DocRecord} dress applied to every record stored
   */
  constructor(db, dress) {
    this.db = db
    this.x = dress
  }

  /**
   * Run `fn` in one transaction; resolves after the commit, rejects (and aborts) on any error.
   * @template T
   * @param {string[]} stores
   * @param {IDBTransactionMode} mode
   * @param {(tx: IDBTransaction) => Promise<T>} fn
   * @returns {Promise<T>}
   */
  async run(stores, mode, fn) {
    const tx = this.db.transaction(stores, mode)
    const done = txDone(tx)
    done.catch(() => {})
    try {
      const out = await fn(tx)
      await done
      return out
    } catch (e) {
      try {
        tx.abort()
      } catch {}
      throw tx.error || e
    }
  }

  /** Persistent random client id, created on first use. @returns {Promise<string>} */
  clientId() {
    return this.run([META], 'readwrite', async (tx) => {
      const m = tx.objectStore(META)
      let id = /** @type {string | undefined} */ (await req(m.get(CLIENT_KEY)))
      if (!id) {
        id = globalThis.crypto?.randomUUID?.() ?? Date.now() + '' + Math.random()
        m.put(id, CLIENT_KEY)
      }
      return id
    })
  }

  /**
   * Apply local writes and queue them, all in one transaction (seq and clock included). Each op
   * gets its `seq`.
   * @param {{c: string, id: string, doc: Doc | null | ((cur: Doc | undefined) => Doc | null), seq?: number}[]} ops
   *   a function `doc` (`update()`) computes the document from the local view it replaces, here,
   *   so that the write's base is the version it read
   * @param {(stored: bigint) => bigint} nextTs next clock value given the last stored one
   * @returns {Promise<StoredChange[]>}
   */
  write(ops, nextTs) {
    return this.run([DOCS, OUT, META], 'readwrite', async (tx) => {
      const docs = tx.objectStore(DOCS)
      const out = tx.objectStore(OUT)
      const meta = tx.objectStore(META)
      const clock = /** @type {{seq: number, ts: bigint} | undefined} */ (await req(meta.get(CLOCK_KEY))) || { seq: 0, ts: 0n }
      /** @type {Map<string, DocRecord | undefined>} */
      const cache = new Map()
      /** @type {StoredChange[]} */
      const changes = []
      for (const op of ops) {
        const { c, id } = op
        const key = docTag(c, id)
        const held = cache.has(key) ? cache.get(key) : /** @type {DocRecord | undefined} */ (await req(docs.get(docKey(c, id))))
        const doc = typeof op.doc == 'function' ? op.doc(held?.doc ?? undefined) : op.doc
        const w = localWrite(held, c, id, doc)
        clock.ts = nextTs(clock.ts)
        op.seq = ++clock.seq
        cache.set(key, w.rec)
        docs.put(this.x(w.rec))
        out.add(/** @type {OutboxEntry} */ ({ seq: clock.seq, c, id, op: doc ? 'put' : 'del', doc, ts: clock.ts, base: w.base, dep: w.dep }))
        pushChange(changes, w.rec)
      }
      meta.put(clock, CLOCK_KEY)
      return changes
    })
  }

  /**
   * Apply changes from the hub and advance the collection's cursor in the same transaction.
   * @param {string} c
   * @param {Change[]} changes
   * @param {Cursor | null} cursor
   * @param {boolean} [fresh] the documents are most likely not held (a first sync): added without
   *   reading them first. One held already fails its `add` and aborts the transaction; the
   *   changes are then applied again, reading each.
   * @returns {Promise<StoredChange[]>} the changes visible to the app
   */
  applyRemote(c, changes, cursor, fresh) {
    return this.run([DOCS, META], 'readwrite', async (tx) => {
      const docs = tx.objectStore(DOCS)
      /** @type {StoredChange[]} */
      const out = []
      // all reads are issued at once; a document changed twice in one burst is read from `held`
      const reads = fresh ? [] : changes.map(([id]) => ahead(docs.get(docKey(c, id))))
      /** @type {Map<string, DocRecord>} */
      const held = new Map()
      for (let i = 0; i < changes.length; i++) {
        const [id, ver, doc] = changes[i]
        const cur = held.get(id) ?? (await reads[i])
        const r = remoteChange(cur, c, id, ver, doc)
        if (!r) continue
        held.set(id, r.rec)
        fresh ? docs.add(this.x(r.rec)) : docs.put(this.x(r.rec))
        if (r.visible) pushChange(out, r.rec)
      }
      if (cursor) await this.#putCursor(tx, c, cursor)
      return out
    }).catch((e) => {
      if (!fresh) throw e
      return this.applyRemote(c, changes, cursor)
    })
  }

  /**
   * @param {IDBTransaction} tx
   * @param {string} c
   * @param {Cursor} cursor
   */
  async #putCursor(tx, c, cursor) {
    const meta = tx.objectStore(META)
    const key = cursorKey(c)
    meta.put(mergeCursor(await req(meta.get(key)), cursor), key)
  }

  /**
   * End a sync: store its cursor; with `reset`, drop documents it did not mention unless they
   * have pending writes (those keep their view, but their server state becomes "absent").
   * @param {string} c
   * @param {Cursor} cursor
   * @param {boolean} reset
   * @param {Set<string>} seen
   * @returns {Promise<StoredChange[]>}
   */
  finishSync(c, cursor, reset, seen) {
    return this.run([DOCS, META], 'readwrite', async (tx) => {
      /** @type {StoredChange[]} */
      const out = []
      if (reset) {
        const docs = tx.objectStore(DOCS)
        for (const rec of /** @type {DocRecord[]} */ (await req(docs.getAll(collRange(c))))) {
          if (seen.has(rec.id)) continue
          // kept for its pending writes; the hub shows nothing of it now: a refusal falls back to that
          if (rec.pend) docs.put({ ...rec, srv: null })
          else {
            docs.delete(docKey(c, rec.id))
            if (rec.doc) pushChange(out, { ...rec, doc: null })
          }
        }
        tx.objectStore(META).put(cursor, cursorKey(c))
      } else {
        await this.#putCursor(tx, c, cursor)
      }
      return out
    })
  }

  /**
   * Apply the hub's results and remove the acknowledged entries from the outbox.
   * @param {AckResult[]} results
   * @param {Map<number, OutboxEntry>} [sent] the entries as sent on this connection (saves reading them back)
   * @returns {Promise<{changes: StoredChange[], conflicts: Conflict[], failed: import('./types.js').SyncError[], done: WriteResult[]}>}
   *   `failed`: the `error` results, whose `server` is the document the view fell back to
   */
  applyAcks(results, sent) {
    return this.run([DOCS, OUT], 'readwrite', async (tx) => {
      const docs = tx.objectStore(DOCS)
      const outbox = tx.objectStore(OUT)
      /** @type {StoredChange[]} */
      const changes = []
      /** @type {Conflict[]} */
      const conflicts = []
      /** @type {import('./types.js').SyncError[]} */
      const failed = []
      /** @type {WriteResult[]} */
      const done = []
      const entries = /** @type {(OutboxEntry | undefined)[]} */ (
        await Promise.all(results.map((r) => sent?.get(r.seq) ?? ahead(outbox.get(r.seq))))
      )
      const reads = entries.map((e) => e && ahead(docs.get(docKey(e.c, e.id))))
      // seqs are integer keys: a dense run of them is exactly the outbox range it spans. One range
      // delete up front gives the same outbox as a delete per entry while no document repeats
      // (the lookup of a document's next pending entry below then never meets the range).
      const first = results.length ? results[0].seq : 0
      const dense =
        results.length > 0 &&
        results.every((r, i) => r.seq === first + i) && new Set(entries.map((e) => e && docTag(e.c, e.id))).size === results.length
      if (dense) outbox.delete(IDBKeyRange.bound(first, first + results.length - 1))
      /** @type {Map<string, DocRecord>} */
      const held = new Map()
      for (let i = 0; i < results.length; i++) {
        const entry = entries[i]
        if (!entry) continue
        // the hub sends documents without `id`; locally every document carries it
        const r = results[i].doc ? { ...results[i], doc: { ...results[i].doc, id: entry.id } } : results[i]
        const key = docTag(entry.c, entry.id)
        const a = ackWrite(held.get(key) ?? (await reads[i]), entry, r)
        held.set(key, a.rec)
        docs.put(this.x(a.rec))
        if (!dense) outbox.delete(r.seq)
        const at = { seq: r.seq, coll: entry.c, id: entry.id, local: /** @type {any} */ (entry.doc) }
        if (a.conflict) conflicts.push({ ...at, server: /** @type {any} */ (r.doc ?? null), outcome: /** @type {Conflict['outcome']} */ (r.s), ver: r.ver })
        if (r.s === 'error') failed.push(syncError('mutation', r.code ?? 0, r.msg ?? '', false, { ...at, server: /** @type {any} */ (a.rec.srv ?? a.rec.doc) }))
        done.push(verdict(entry, r))
        if (a.visible) pushChange(changes, a.rec)
        if (a.rec.pend > 0) {
          const next = /** @type {OutboxEntry[]} */ (await req(outbox.index(OUTBOX_BY_DOC).getAll(docKey(entry.c, entry.id), 1)))[0]
          if (next && next.dep) outbox.put({ ...next, base: a.nextBase, dep: false })
        }
      }
      return { changes, conflicts, failed, done }
    })
  }

  /**
   * Outbox entries after `afterSeq` (sequence numbers start at 1: `readOutbox(0)` reads them all).
   * @param {number} afterSeq
   * @param {number} [limit] default: all
   * @returns {Promise<OutboxEntry[]>}
   */
  readOutbox(afterSeq, limit) {
    return this.run([OUT], 'readonly', (tx) => req(tx.objectStore(OUT).getAll(IDBKeyRange.lowerBound(afterSeq, true), limit)))
  }

  /** @returns {Promise<number>} */
  outboxCount() {
    return this.run([OUT], 'readonly', (tx) => req(tx.objectStore(OUT).count()))
  }

  /**
   * @param {string} c
   * @param {string} id
   * @returns {Promise<Doc | undefined>}
   */
  async get(c, id) {
    const rec = /** @type {DocRecord | undefined} */ (await this.run([DOCS], 'readonly', (tx) => req(tx.objectStore(DOCS).get(docKey(c, id)))))
    return rec?.doc ?? undefined
  }

  /**
   * @param {string} c
   * @returns {Promise<Doc[]>}
   */
  async getAll(c) {
    const recs = /** @type {DocRecord[]} */ (await this.run([DOCS], 'readonly', (tx) => req(tx.objectStore(DOCS).getAll(collRange(c)))))
    return /** @type {Doc[]} */ (recs.map((r) => r.doc).filter(Boolean))
  }

  /**
   * Where a sync of `c` starts: its cursor, and whether nothing of `c` is held.
   * @param {string} c
   * @returns {Promise<{cursor: Cursor | null, empty: boolean}>}
   */
  syncStart(c) {
    return this.run([DOCS, META], 'readonly', async (tx) => ({
      cursor: (await req(tx.objectStore(META).get(cursorKey(c)))) ?? null,
      empty: !(await req(tx.objectStore(DOCS).count(collRange(c)))),
    }))
  }

  close() {
    this.db.close()
  }
}

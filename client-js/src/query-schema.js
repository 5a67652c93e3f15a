/**
 * Query indexes in the client database: `indexes({...})` is the `indexes` option of `SyncClient`.
 * It opens the database at the version that holds every declared index, upgrading it (a new
 * version, the missing indexes created and the collection's records given their derived keys)
 * when one is missing, and keeps the derived keys of every record the client stores up to date.
 *
 * Indexes no longer declared are left in place: another tab may still run code that uses them,
 * and dropping them there would start an upgrade back and forth. An upgrade closes the database
 * in the other tabs (their clients stop with a `versionchange` error and need a reload), as any
 * IndexedDB schema change does.
 */
import { req, createLayout } from './store.js'
import { indexDefs, derivedKeys } from './core/plan.js'
import { DOCS, collBounds } from './core/keys.js'

/** @typedef {import('./core/plan.js').IndexDef} IndexDef */
/** @typedef {import('./core/records.js').DocRecord} DocRecord */
/**
 * @typedef {import('./store.js').Schema & {defs: Map<string, IndexDef[]>}} Indexes what `indexes()`
 *   returns, for the `indexes` option of `SyncClient`
 */

/**
 * Declare the query indexes of each collection: a field name or a list of field names (a compound
 * index, which also serves queries on its leading fields). Field names are identifiers, nested
 * fields dot-separated (`author.name`).
 * @example new SyncClient({ url, indexes: indexes({ todos: ['updatedAt', ['team', 'done', 'updatedAt']] }) })
 * @param {{[coll: string]: readonly (string | readonly string[])[]}} spec
 * @returns {Indexes}
 */
export function indexes(spec) {
  const defs = indexDefs(spec)
  /** @param {DocRecord & {k?: object}} rec */
  const dress = (rec) => {
    const d = defs.get(rec.c)
    if (d) {
      if (rec.doc) rec.k = derivedKeys(rec.doc, d)
      else delete rec.k
    }
    return rec
  }
  return {
    defs,
    dress,
    /** @param {IDBFactory} factory @param {string} name */
    async open(factory, name) {
      /** @type {number | undefined} */
      let version
      for (let tries = 0; ; tries++) {
        let db
        try {
          db = await openAt(factory, name, version, defs, dress)
        } catch (e) {
          // another tab upgraded it meanwhile: open whatever version it is now and check again
          if (tries < 5 && /** @type {Error} */ (e)?.name === 'VersionError') {
            version = undefined
            continue
          }
          throw e
        }
        if (!missing(db, defs).length) return db
        version = db.version + 1
        db.close()
      }
    },
  }
}

/**
 * @param {IDBDatabase | IDBTransaction} db
 * @param {Map<string, IndexDef[]>} defs
 * @returns {IndexDef[]}
 */
function missing(db, defs) {
  const names = 'objectStore' in db ? db.objectStore(DOCS).indexNames : db.transaction(DOCS).objectStore(DOCS).indexNames
  return [...defs.values()].flat().filter((d) => !names.contains(d.name))
}

/**
 * Open at `version` (the current one when undefined): creating the base layout in a new
 * database, and the missing indexes, with the derived keys of the records they cover, in an upgrade.
 * @param {IDBFactory} factory
 * @param {string} name
 * @param {number | undefined} version
 * @param {Map<string, IndexDef[]>} defs
 * @param {(rec: DocRecord) => DocRecord} dress
 * @returns {Promise<IDBDatabase>}
 */
function openAt(factory, name, version, defs, dress) {
  const r = version ? factory.open(name, version) : factory.open(name)
  r.onupgradeneeded = () => {
    const db = r.result
    const tx = /** @type {IDBTransaction} */ (r.transaction)
    if (!db.objectStoreNames.contains(DOCS)) createLayout(db)
    const docs = tx.objectStore(DOCS)
    const colls = new Set()
    for (const d of missing(tx, defs)) {
      docs.createIndex(d.name, d.keyPath)
      colls.add(/** @type {string} */ ([...defs].find(([, l]) => l.includes(d))?.[0]))
    }
    for (const c of colls) {
      const cur = docs.openCursor(IDBKeyRange.bound(...collBounds(c)))
      cur.onsuccess = () => {
        const at = cur.result
        if (!at) return
        at.update(dress(at.value))
        at.continue()
      }
    }
  }
  return req(r).then((db) => {
    // until the client takes it over, a connection must not block another tab's upgrade
    db.onversionchange = () => db.close()
    return db
  })
}

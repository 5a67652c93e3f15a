// An IndexedDB factory (fake-indexeddb, wrapped) whose disk can fill up on demand: while
// `full(record)` returns true for a record a read-write transaction puts (or adds), that transaction aborts
// with a QuotaExceededError, as a browser's does when a commit would exceed the origin's quota
// (nothing of it is kept). Reads and other transactions are untouched.
import { IDBFactory } from 'fake-indexeddb'

export function quotaIDB() {
  const inner = new IDBFactory()
  const q = {
    /** @type {(record: any) => boolean} */
    full: () => false,
    /** transactions aborted so far */
    aborted: 0,
    factory: {
      open(name, version) {
        const r = inner.open(name, version)
        // runs before the `onsuccess` the client sets (listeners run in the order they were added)
        r.addEventListener('success', () => wrapDb(r.result))
        return r
      },
      deleteDatabase: (name) => inner.deleteDatabase(name),
      databases: () => inner.databases(),
      cmp: (a, b) => inner.cmp(a, b),
    },
  }
  function wrapDb(db) {
    const transaction = db.transaction.bind(db)
    db.transaction = (stores, mode, opts) => {
      const tx = transaction(stores, mode, opts)
      if (mode !== 'readwrite') return tx
      const objectStore = tx.objectStore.bind(tx)
      tx.objectStore = (name) => {
        const s = objectStore(name)
        for (const op of ['put', 'add']) {
          const write = s[op].bind(s)
          s[op] = (value, key) => {
            if (q.full(value)) {
              q.aborted++
              // fake-indexeddb's own abort step, with the error a full disk gives
              tx._abort('QuotaExceededError')
            }
            return write(value, key)
          }
        }
        return s
      }
      return tx
    }
  }
  return q
}

/**
 * The local write queue of a `SyncClient`: writes issued in the same tick commit in one IndexedDB
 * transaction (each document and its outbox entry together), then their handles resolve, the app
 * is told and the outbox pump is woken (here, or in the leader tab).
 */
import { hlcNext } from './core/hlc.js'
import { storeError } from './core/errors.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./types.js').WriteHandle} WriteHandle */
/** @typedef {import('./types.js').WriteResult} WriteResult */
/** @typedef {import('./store.js').Store} Store */

/**
 * Queue a local write of `cl`.
 * @param {SyncClient} cl
 * @param {string} c
 * @param {string} id
 * @param {Doc | null | ((cur: Doc | undefined) => Doc | null)} doc a function: `update()`
 * @returns {Promise<WriteHandle>}
 */
export function write(cl, c, id, doc) {
  if (cl.dead) return Promise.reject(cl.dead)
  return new Promise((res, rej) => {
    cl.wq.push({ c, id, doc, res, rej })
    if (!cl.writing) drain(cl)
  })
}

/** @param {SyncClient} cl */
async function drain(cl) {
  cl.writing = true
  try {
    const { store } = await cl.ready
    while (cl.wq.length) {
      const ops = cl.wq.splice(0, 2000)
      // one bad write (e.g. too big for the quota left) must not fail the others queued with
      // it: after a refused transaction each write is tried again in one of its own
      if (!(await commit(cl, store, ops, ops.length < 2))) for (const op of ops) await commit(cl, store, [op], true)
    }
  } catch (e) {
    for (const op of cl.wq.splice(0)) op.rej(e)
  } finally {
    cl.writing = false
  }
}

/**
 * Store `ops` in one transaction and hand out their handles.
 * @param {SyncClient} cl
 * @param {Store} store
 * @param {SyncClient['wq']} ops
 * @param {boolean} final on failure reject them (else leave them to the caller)
 * @returns {Promise<boolean>} stored
 */
async function commit(cl, store, ops, final) {
  try {
    const changes = await store.write(ops, (stored) => (cl.ts = hlcNext(stored > cl.ts ? stored : cl.ts, cl.o.now())))
    for (const op of ops) {
      const seq = /** @type {number} */ (op.seq)
      /** @type {Promise<WriteResult>} */
      const result = new Promise((res, rej) => cl.wr.set(seq, { res, rej }))
      // nobody has to look at it: a client that stops first must not leave unhandled rejections
      result.catch(() => {})
      op.res({ seq, coll: op.c, id: op.id, result })
    }
    cl.changed(changes, 'local', true)
    if (cl.syncer) cl.syncer.pump()
    else cl.tabs.post({ t: 'outbox' })
    return true
  } catch (e) {
    if (!final) return false
    for (const op of ops) op.rej(e)
    // a document update() computed that put() would refuse: the caller's error, not the store's
    if (!(e instanceof TypeError)) cl.emit('error', storeError(e, false))
    return true
  }
}

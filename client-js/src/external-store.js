/**
 * External stores for the framework bindings (`synchub-client/react`, `/svelte`, `/vue`): each is
 * the pair `subscribe(cb) → unsubscribe` + `getSnapshot()` that React's `useSyncExternalStore`
 * expects, and that the Svelte and Vue adapters wrap. A snapshot is the same value until something
 * changed, so a framework re-renders only then.
 *
 * Sources start with their first subscriber and stop a task after the last one left: React's
 * StrictMode (and a component that re-subscribes) unsubscribes and subscribes again at once, which
 * must not throw away a live query's result and start it again.
 */
import { sameDoc } from './core/records.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {import('./types.js').PendingWrite} PendingWrite */
/**
 * @template V
 * @typedef {object} ExternalStore
 * @property {(cb: () => void) => () => void} subscribe call `cb` after every change of the snapshot
 * @property {() => V} getSnapshot the current value; the same until it changed
 * @property {() => V} getServerSnapshot the value before anything was read (server rendering, hydration)
 */

/** @type {import('./live-query.js').Snapshot<any>} */
const LOADING = { docs: [], pending: false, fromCache: true, loading: true, error: null }
/** @type {PendingWrite[]} */
const NONE = []

/**
 * A store that runs `start` while it has subscribers.
 * @template V
 * @param {V} value the snapshot before `start` set one
 * @param {(set: (v: V) => void) => () => void} start begins following; returns its stop
 * @returns {ExternalStore<V>}
 */
function lazy(value, start) {
  /** @type {Set<() => void>} */
  const cbs = new Set()
  /** @type {(() => void) | null} */
  let stop = null
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  /** @param {V} v */
  const set = (v) => {
    if (v === value) return
    value = v
    for (const cb of [...cbs]) cb()
  }
  const initial = value
  return {
    getSnapshot: () => value,
    getServerSnapshot: () => initial,
    subscribe(cb) {
      clearTimeout(timer)
      cbs.add(cb)
      stop ||= start(set)
      return () => {
        if (!cbs.delete(cb) || cbs.size) return
        timer = setTimeout(() => {
          if (cbs.size || !stop) return
          stop()
          stop = null
        })
      }
    },
  }
}

/**
 * A key telling queries apart by what they ask (the same query built again in each render has the
 * same key). Dates, bigints and strings are tagged so that `5n`, `'5'` and a date do not collide.
 * @param {import('./query.js').Query<any>} q
 */
export function queryKey(q) {
  return JSON.stringify(q.spec, function (k, v) {
    const raw = this[k]
    return typeof raw === 'bigint' ? 'n' + raw : raw instanceof Date ? 'd' + +raw : typeof raw === 'string' ? 's' + raw : v
  })
}

/**
 * The snapshots of a live query of `q` (`{docs, pending, fromCache, loading, error}`). A restart
 * after the last subscriber left keeps showing the previous result until the new one is read.
 * @template {object} T
 * @param {import('./query.js').Query<T>} q
 * @returns {ExternalStore<import('./live-query.js').Snapshot<T>>}
 */
export function liveSource(q) {
  return lazy(/** @type {import('./live-query.js').Snapshot<T>} */ (LOADING), (set) => {
    const lq = q.live()
    lq.subscribe(() => set(lq.getSnapshot()))
    return () => lq.close()
  })
}

/**
 * One document's local view: `undefined` until read, `null` when there is none (or deleted).
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {string} id
 * @returns {ExternalStore<import('./types.js').WithId<T> | null | undefined>}
 */
export function docSource(coll, id) {
  return lazy(/** @type {import('./types.js').WithId<T> | null | undefined} */ (undefined), (set) => {
    let gen = 0
    let last = /** @type {any} */ (undefined)
    // re-read rather than take the change's document: reads issued after a change see it, and
    // only the latest read counts (an earlier one may finish later)
    const read = () => {
      const n = ++gen
      coll.get(id).then(
        (d) => n === gen && set((last = d && sameDoc(d, last) ? last : d ?? null)),
        () => {}
      )
    }
    const off = coll.subscribe((changes) => changes.some((c) => c.id === id) && read())
    read()
    return () => {
      gen++
      off()
    }
  })
}

/**
 * The client's status (`offline`, `connecting`, `syncing`, `live`, `unauthorized`, `paused`).
 * @param {SyncClient} client
 * @returns {ExternalStore<import('./types.js').Status>}
 */
export function statusSource(client) {
  return {
    getSnapshot: () => client.status,
    // a client starts `offline`
    getServerSnapshot: () => 'offline',
    subscribe(cb) {
      client.addEventListener('status', cb)
      return () => client.removeEventListener('status', cb)
    },
  }
}

/** @type {WeakMap<SyncClient, ExternalStore<PendingWrite[]>>} one per client: every user shares its reads */
const pending = new WeakMap()

/**
 * The client's outbox (`pendingWrites()`), read again after local writes, other tabs' writes and
 * the hub's acknowledgements; the same array while the same writes are pending.
 * @param {SyncClient} client
 * @returns {ExternalStore<PendingWrite[]>}
 */
export function pendingSource(client) {
  let s = pending.get(client)
  if (!s) {
    s = lazy(NONE, (set) => {
      let cur = NONE
      let busy = false
      let again = false
      const read = async () => {
        if (busy) return void (again = true)
        busy = true
        try {
          do {
            again = false
            const next = await client.pendingWrites()
            if (next.length !== cur.length || next.some((w, i) => w.seq !== cur[i].seq)) set((cur = next))
          } while (again)
        } catch {
          // the client stopped: the last list stays
        } finally {
          busy = false
        }
      }
      // the outbox changes with local writes (`change`, also of other tabs) and acknowledgements
      client.addEventListener('change', read)
      client.addEventListener('acked', read)
      read()
      return () => {
        client.removeEventListener('change', read)
        client.removeEventListener('acked', read)
      }
    })
    pending.set(client, s)
  }
  return s
}

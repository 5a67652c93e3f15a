/**
 * `synchub-client/vue`: composables returning refs (shallow: documents are replaced, never
 * mutated) over live queries, documents, the sync status and the outbox. Call them in `setup()`
 * (or an `effectScope`): they stop following the client when that scope is disposed. `vue` (3.3+)
 * is a peer dependency.
 *
 *   const done = ref(false)
 *   const list = useLiveQuery(() => query(todos).where('done', '==', done.value))
 *
 * The query may be a getter (or a ref): the live query starts again when what it asks changed.
 */
import { computed, getCurrentScope, onScopeDispose, shallowRef, toValue, watchEffect } from 'vue'
import { liveSource, docSource, statusSource, pendingSource, queryKey } from './external-store.js'

/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @template V @typedef {import('vue').MaybeRefOrGetter<V>} MaybeRefOrGetter */
/** @template V @typedef {Readonly<import('vue').Ref<V>>} ReadonlyRef */

/**
 * A ref following the store `make()` returns; `make` runs again when the reactive values it reads
 * change and `key` (what it asks) differs.
 * @template V
 * @param {() => [string, import('./external-store.js').ExternalStore<V>]} make
 * @returns {ReadonlyRef<V>}
 */
function follow(make) {
  const r = /** @type {import('vue').ShallowRef<V>} */ (shallowRef())
  let key = ''
  /** @type {() => void} */
  let off = () => {}
  watchEffect(() => {
    const [k, s] = make()
    if (k === key) return
    key = k
    off()
    off = s.subscribe(() => (r.value = s.getSnapshot()))
    r.value = s.getSnapshot()
  })
  // not the effect's onCleanup: that runs before every re-run, also those keeping the same store
  if (getCurrentScope()) onScopeDispose(() => off())
  return r
}

/** @type {WeakMap<object, number>} */
const ids = new WeakMap()
let next = 0
/** A key naming an object (a collection). @param {object} o */
const idOf = (o) => ids.get(o) ?? (ids.set(o, ++next), next)

/**
 * A live query's whole snapshot: `{docs, pending, fromCache, loading, error}`.
 * @template {object} T
 * @param {MaybeRefOrGetter<import('./query.js').Query<T>>} q
 * @returns {ReadonlyRef<import('./live-query.js').Snapshot<T>>}
 */
export function useLiveSnapshot(q) {
  return follow(() => {
    const v = toValue(q)
    return [idOf(v.collection) + queryKey(v), liveSource(v)]
  })
}

/**
 * The documents of a live query (empty until first read).
 * @template {object} T
 * @param {MaybeRefOrGetter<import('./query.js').Query<T>>} q
 * @returns {ReadonlyRef<import('./types.js').WithId<T>[]>}
 */
export function useLiveQuery(q) {
  const snap = useLiveSnapshot(q)
  return computed(() => snap.value.docs)
}

/**
 * One document's local view: `undefined` until read, `null` when there is none.
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} coll
 * @param {MaybeRefOrGetter<string>} id
 * @returns {ReadonlyRef<import('./types.js').WithId<T> | null | undefined>}
 */
export function useDoc(coll, id) {
  return follow(() => {
    const v = toValue(id)
    return [idOf(coll) + JSON.stringify(v), docSource(coll, v)]
  })
}

/**
 * The client's status.
 * @param {SyncClient} client
 * @returns {ReadonlyRef<import('./types.js').Status>}
 */
export const useSyncStatus = (client) => follow(() => ['s', statusSource(client)])

/**
 * The writes the hub has not acknowledged yet (empty until read).
 * @param {SyncClient} client
 * @returns {ReadonlyRef<import('./types.js').PendingWrite[]>}
 */
export const usePendingWrites = (client) => follow(() => ['p', pendingSource(client)])

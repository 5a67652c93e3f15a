/**
 * `synchub-client/query`: local queries and live queries over a collection's documents, answered
 * from IndexedDB indexes declared with `indexes()` (docs/client.md, "Queries"). A separate entry
 * point: the core (`synchub-client`) stays within its size budget, and apps without queries do
 * not load this.
 *
 *   const client = new SyncClient({ url, indexes: indexes({ todos: [['team', 'done', 'updatedAt']] }) })
 *   const open = query(client.collection('todos')).where('team', '==', 't1').where('done', '==', false)
 *   const page = await open.orderBy('updatedAt', 'desc').limit(20).get()
 *   const stop = open.observe((docs, { pending, fromCache }) => render(docs))
 */
import { checkWhere, FIELD } from './core/query.js'
import { prepare } from './core/plan.js'
import { readQuery, countQuery } from './query-run.js'
import { LiveQuery } from './live-query.js'
import { syncFilter } from './subsets.js'

export { indexes } from './query-schema.js'
export { LiveQuery } from './live-query.js'
export { subset, syncNamed, Subset } from './subsets.js'
/** @typedef {import('./subsets.js').SubsetEventMap} SubsetEventMap */

/** @typedef {import('./types.js').Doc} Doc */
/** @typedef {import('./core/query.js').WhereOp} WhereOp */
/** @typedef {import('./core/plan.js').Spec} Spec */
/** @typedef {import('./core/plan.js').Prepared} Prepared */
/** @typedef {import('./query-schema.js').Indexes} Indexes */
/**
 * @template {object} T
 * @typedef {Extract<keyof T, string> | 'id'} FieldOf a field a query may name: a key of `T`, or `id`
 *   (nested fields, `'author.name'`, work at run time but are not typed)
 */
/**
 * @template {object} T
 * @template {string} K
 * @typedef {K extends keyof T ? T[K] : K extends 'id' ? string : unknown} ValueOf
 */
/**
 * @template {object} [T=Doc]
 * @typedef {import('./live-query.js').Snapshot<T>} Snapshot
 */
/** @typedef {import('./live-query.js').SnapshotMeta} SnapshotMeta */
/**
 * @typedef {object} Explain how a query is answered
 * @property {string | null} index the IndexedDB index read; null: the whole collection is scanned
 * @property {number} ranges key ranges read (one per combination of `in` values)
 * @property {boolean} ordered the index yields the query's order (a `limit` stops the read early)
 * @property {boolean} exact the index ranges hold exactly the matching documents (no filtering)
 */

/** Query shapes a scan was reported for (once each). */
const warned = new Set()

/**
 * An immutable query over one collection: each method returns a new query.
 * @template {object} [T=Doc]
 */
export class Query {
  /** @readonly @type {import('./collection.js').Collection<T>} */
  collection
  /** @internal @type {Spec} */
  spec
  /** @type {Prepared | undefined} */
  #prepared

  /**
   * @internal
   * @param {import('./collection.js').Collection<T>} collection
   * @param {Spec} spec
   */
  constructor(collection, spec) {
    this.collection = collection
    this.spec = spec
  }

  /** @param {Partial<Spec>} change @returns {Query<T>} */
  #with(change) {
    return new Query(this.collection, { ...this.spec, ...change })
  }

  /**
   * Keep the documents whose `field` compares so with `value` (`in`: equals one of the values).
   * Ranges compare within the value's type (numbers, strings, dates, booleans); a missing field
   * matches nothing. Clauses add up (AND). `where({team: 'x', done: false})`: equalities.
   * @overload
   * @param {{[K in FieldOf<T>]?: ValueOf<T, K>}} fields
   * @returns {Query<T>}
   */
  /**
   * @template {FieldOf<T>} K
   * @template {WhereOp} O
   * @overload
   * @param {K} field
   * @param {O} op
   * @param {O extends 'in' ? readonly ValueOf<T, K>[] : ValueOf<T, K>} value
   * @returns {Query<T>}
   */
  /**
   * @param {any} field @param {any} [op] @param {unknown} [value]
   * @returns {Query<T>}
   */
  where(field, op, value) {
    if (field && typeof field === 'object') return Object.entries(field).reduce((q, [f, v]) => q.where(/** @type {any} */ (f), '==', v), /** @type {Query<T>} */ (this))
    return this.#with({ where: [...this.spec.where, checkWhere({ field, op, value })] })
  }

  /**
   * Sync this query's subset from the hub (a query subscription, docs/client.md "Partial sync"):
   * its `where` clauses are the filter (`orderBy` stays local; `limit` and `startAfter` cannot be
   * synced). The documents land in the collection; read them with this query (offline too).
   * @returns {import('./subsets.js').Subset}
   */
  sync() {
    const s = this.spec
    if (s.limit !== null || s.after) throw new TypeError('sync: limit and startAfter are local only; sync the filter, then query it')
    return syncFilter(this.collection, s.where.map((w) => [w.field, w.op, w.value]))
  }

  /**
   * Order by `field` (then by the next `orderBy`, and last by id). Documents without the field
   * come last (first when descending).
   * @param {FieldOf<T>} field
   * @param {'asc' | 'desc'} [dir]
   * @returns {Query<T>}
   */
  orderBy(field, dir = 'asc') {
    if (typeof field !== 'string' || !FIELD.test(field) || (dir !== 'asc' && dir !== 'desc')) throw new TypeError(`orderBy: bad field or direction`)
    return this.#with({ order: [...this.spec.order, { field, dir }] })
  }

  /**
   * At most `n` documents.
   * @param {number} n
   * @returns {Query<T>}
   */
  limit(n) {
    if (!Number.isInteger(n) || n < 0) throw new TypeError('limit: an integer >= 0 expected')
    return this.#with({ limit: n })
  }

  /**
   * The documents after `doc` in this query's order: pass the last document of a page for the
   * next page. Only its `orderBy` fields and `id` are read.
   * @param {Partial<T> & {id: string}} doc
   * @returns {Query<T>}
   */
  startAfter(doc) {
    if (!doc || typeof doc.id !== 'string') throw new TypeError('startAfter: a document with its id expected')
    return this.#with({ after: doc })
  }

  /** @internal @returns {Prepared} */
  prepared() {
    if (!this.#prepared) {
      const s = this.spec
      const defs = /** @type {Indexes | null} */ (this.collection.client.o.indexes)?.defs?.get(s.coll) ?? []
      this.#prepared = prepare(s, defs)
      const shape = JSON.stringify([s.coll, s.where.map((w) => [w.field, w.op]), s.order])
      if (!this.#prepared.plan.index && (s.where.length || s.order.length) && !warned.has(shape)) {
        warned.add(shape)
        console.warn(`synchub-client/query: no index serves ${shape}; scanning the collection (declare one with indexes())`)
      }
    }
    return this.#prepared
  }

  /**
   * The matching documents (the local view: pending writes included, deletions never), in order.
   * @returns {Promise<import('./types.js').WithId<T>[]>}
   */
  async get() {
    const { store } = await this.collection.client.ready
    return /** @type {any[]} */ ((await readQuery(store.db, this.prepared())).map((r) => r.doc))
  }

  /**
   * How many documents `get()` would return; counted in the index when it can.
   * @returns {Promise<number>}
   */
  async count() {
    const { store } = await this.collection.client.ready
    return countQuery(store.db, this.prepared())
  }

  /** How the query is answered: which index, or a scan. @returns {Explain} */
  explain() {
    const p = this.prepared().plan
    return { index: p.index?.name ?? null, ranges: p.ranges.length, ordered: p.ordered, exact: p.exact }
  }

  /**
   * A live query: evaluated now and after every change that can touch its result.
   * @returns {LiveQuery<T>}
   */
  live() {
    return new LiveQuery(this.collection, this.prepared())
  }

  /**
   * Call `cb` with the result once it is read, then after every change of it (documents,
   * `pending`, `fromCache`); at most once per animation frame.
   * @param {(docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void} cb
   * @param {(error: unknown) => void} [onError] an evaluation failed (the result stays the previous one)
   * @returns {() => void} stop
   */
  observe(cb, onError) {
    const lq = this.live()
    lq.subscribe(() => {
      const s = lq.getSnapshot()
      if (s.error) onError?.(s.error)
      else if (!s.loading) cb(s.docs, { pending: s.pending, fromCache: s.fromCache })
    })
    return () => lq.close()
  }
}

/**
 * A query over all documents of `collection` (narrow it with `where`, `orderBy`, `limit`…).
 * @template {object} T
 * @param {import('./collection.js').Collection<T>} collection
 * @returns {Query<T>}
 */
export function query(collection) {
  return new Query(collection, { coll: collection.name, where: [], order: [], limit: null, after: null })
}

/**
 * `query.observe(cb)`, as a function.
 * @template {object} T
 * @param {Query<T>} q
 * @param {(docs: import('./types.js').WithId<T>[], meta: SnapshotMeta) => void} cb
 * @returns {() => void} stop
 */
export function observe(q, cb) {
  return q.observe(cb)
}

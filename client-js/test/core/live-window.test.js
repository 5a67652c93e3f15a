// The in-memory window of a live query (src/live-window.js) against brute force: random queries
// (==, <, <=, >, >=, in; orderBy asc/desc; limit; startAfter) and random change batches (inserts,
// updates moving documents in and out of the filter and across the window, deletions, tombstones,
// pending flags), the patched result compared with a fresh evaluation after every batch.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Window } from '../../src/live-window.js'
import { prepare } from '../../src/core/plan.js'
import { matches } from '../../src/core/query.js'
import { rng, pick, randomDoc, randomSpec } from '../helpers/random-query.js'

/** The query's result computed from scratch over `recs` (id -> record): the documents and `pending`. */
function fresh(q, recs, size) {
  const kept = [...recs.values()]
    .filter((rec) => rec.doc && matches(rec.doc, q.cons) && (!q.spec.after || q.cmp(rec.doc, q.spec.after) > 0))
    .sort((x, y) => q.cmp(x.doc, y.doc))
  return kept.slice(0, size ?? Infinity)
}

test('live window: patched results equal fresh ones after random change batches', () => {
  const seeds = Number(process.env.LIVE_WINDOW_SEEDS || 300)
  let patched = 0
  let reread = 0
  for (let seed = 1; seed <= seeds; seed++) {
    const r = rng(seed)
    const ids = Array.from({ length: 24 }, (_, i) => 'd' + String(i).padStart(2, '0'))
    /** id -> stored record ({id, doc: null for a tombstone, pend}); a missing id has no record */
    const recs = new Map()
    for (const id of ids) if (r() < 0.6) recs.set(id, { c: 'c', id, doc: randomDoc(r, id), pend: r() < 0.2 ? 1 : 0 })
    const spec = randomSpec(r, ids)
    const q = prepare(spec, [])
    // a small margin, so that windows run short and unread documents follow them often
    const w = new Window(q, Math.floor(r() * 4))
    // records are read as copies (IndexedDB gives structured clones)
    w.reset(fresh(q, recs, w.size).map((x) => structuredClone(x)))
    for (let b = 0; b < 25; b++) {
      /** @type {Map<string, any>} */
      const changed = new Map()
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
        const id = pick(r, ids)
        const x = r()
        const old = recs.get(id)
        if (x < 0.5) recs.set(id, { c: 'c', id, doc: randomDoc(r, id), pend: r() < 0.3 ? 1 : 0 })
        else if (x < 0.65) recs.set(id, { c: 'c', id, doc: null, pend: r() < 0.3 ? 1 : 0 }) // tombstone
        else if (x < 0.75) recs.delete(id) // dropped by a reset
        else if (old) recs.set(id, { ...old, pend: old.pend ? 0 : 1 }) // an ack or a write of the same content
        else continue
        const now = recs.get(id)
        changed.set(id, now && structuredClone(now))
      }
      const ctx = JSON.stringify({ seed, batch: b, spec })
      if (w.patch(changed)) patched++
      else {
        reread++
        w.reset(fresh(q, recs, w.size).map((x) => structuredClone(x)))
      }
      const want = fresh(q, recs, spec.limit)
      const got = w.result()
      assert.deepEqual(got.docs, want.map((x) => x.doc), ctx)
      assert.equal(got.pending, want.some((x) => x.pend > 0), 'pending ' + ctx)
    }
  }
  // the property holds trivially if every batch is read again: most must be patched
  assert.ok(patched > reread * 5, `patched ${patched}, read again ${reread}`)
})

test('live window: an unchanged result keeps its array, and unchanged documents their objects', () => {
  const q = prepare({ coll: 'c', where: [{ field: 'n', op: '>=', value: 1 }], order: [{ field: 'n', dir: 'asc' }], limit: 2, after: null }, [])
  const w = new Window(q)
  const rec = (id, n, pend = 0) => ({ c: 'c', id, doc: { id, n }, pend })
  w.reset([rec('a', 1), rec('b', 2), rec('c', 3)])
  const first = w.result().docs
  assert.deepEqual(first.map((d) => d.id), ['a', 'b'])
  // a document outside the window changes within the spare part: the result's elements are the same objects
  assert.equal(w.patch(new Map([['c', rec('c', 4)]])), true)
  const second = w.result().docs
  assert.equal(second[0], first[0])
  assert.equal(second[1], first[1])
  // the same content read again (an ack): nothing moves, `pending` follows the record
  assert.equal(w.patch(new Map([['a', rec('a', 1, 1)]])), true)
  assert.equal(w.result().docs[0], first[0])
  assert.equal(w.result().pending, true)
  // with no unread documents (3 read for a window of limit + 16): leaving is always exact
  assert.equal(w.patch(new Map([['a', undefined], ['b', rec('b', 0)]])), true)
  assert.deepEqual(w.result().docs.map((d) => d.id), ['c'])
  assert.equal(w.result().pending, false)
})

test('live window: a limited window that runs short asks for a read; beyond its bound nothing is placed', () => {
  const q = prepare({ coll: 'c', where: [], order: [{ field: 'n', dir: 'desc' }], limit: 1, after: null }, [])
  const w = new Window(q)
  assert.equal(w.size, 17)
  const recs = Array.from({ length: 17 }, (_, i) => ({ c: 'c', id: 'i' + i, doc: { id: 'i' + i, n: 100 - i }, pend: 0 }))
  w.reset(recs)
  assert.equal(w.bound?.id, 'i16', 'a full window: unread documents may follow its last one')
  // a document sorting after the bound is not placed (unread ones may come before it)
  assert.equal(w.patch(new Map([['z', { c: 'c', id: 'z', doc: { id: 'z', n: 1 }, pend: 0 }]])), true)
  assert.equal(w.held.has('z'), false)
  // 16 leave: one is left, the limit is still answered
  const gone = new Map(recs.slice(1).map((x) => [x.id, undefined]))
  assert.equal(w.patch(gone), true)
  assert.deepEqual(w.result().docs.map((d) => d.id), ['i0'])
  // the last known one leaves: the next one is unknown
  assert.equal(w.patch(new Map([['i0', undefined]])), false)
})

// Pure query logic: key encoding and order, where clauses, matching, ordering, and the plans of
// core/plan.js checked against brute force on random documents and queries.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode, cmpKey, constraints, matches, comparator, checkWhere, NULL, FALSE, TRUE, MISSING, TOP } from '../../src/core/query.js'
import { indexDefs, derivedKeys, prepare, rangesAfter, indexKey, MAX_RANGES } from '../../src/core/plan.js'

test('encode: IndexedDB keys for every value; null, booleans, missing as arrays in a fixed order', () => {
  assert.equal(encode(3), 3)
  assert.equal(encode('x'), 'x')
  assert.equal(encode(2n), 2)
  assert.equal(encode(null), NULL)
  assert.equal(encode(false), FALSE)
  assert.equal(encode(true), TRUE)
  for (const v of [undefined, {}, [1], NaN, new Date(NaN), () => 1]) assert.equal(encode(v), MISSING)
  const d = new Date(5)
  assert.equal(encode(d), d)
  const order = [-Infinity, -1, 0, 2.5, Infinity, new Date(0), new Date(9), '', 'B', 'a', 'ab', null, false, true, undefined].map(encode)
  for (let i = 0; i < order.length; i++) {
    for (let j = 0; j < order.length; j++) assert.equal(Math.sign(cmpKey(order[i], order[j])), Math.sign(i - j), `${i} vs ${j}`)
  }
})

test('cmpKey: arrays element by element, a prefix first; strings by UTF-16 code unit', () => {
  assert.ok(cmpKey(['a'], ['a', 1]) < 0)
  assert.ok(cmpKey(['a', 2], ['a', 10]) < 0)
  assert.ok(cmpKey(['a', 'z'], ['a', [0]]) < 0)
  assert.ok(cmpKey(TOP, MISSING) > 0 && cmpKey(TOP, 'zzz') > 0, 'TOP above every field key')
  assert.ok(cmpKey('\uffff', '\u{10000}') > 0, 'code units, not code points')
})

test('where: bad clauses are refused with a TypeError that names them', () => {
  assert.throws(() => checkWhere({ field: 'a b', op: '==', value: 1 }), /bad field/)
  assert.throws(() => checkWhere({ field: 'a', op: '!=', value: 1 }), /unknown operator/)
  assert.throws(() => checkWhere({ field: 'a', op: '==', value: {} }), /number, string, boolean, null or Date/)
  assert.throws(() => checkWhere({ field: 'a', op: 'in', value: 1 }), /array expected/)
  assert.throws(() => checkWhere({ field: 'a', op: '<', value: undefined }), TypeError)
  assert.doesNotThrow(() => checkWhere({ field: 'author.name', op: 'in', value: ['x', null, true] }))
})

test('matches: ranges within the operand type; missing fields and tombstones match nothing', () => {
  const m = (doc, ...w) => matches(doc, constraints(w.map(([field, op, value]) => ({ field, op, value }))))
  assert.ok(m({ n: 6 }, ['n', '>', 5]))
  assert.ok(!m({ n: 5 }, ['n', '>', 5]))
  assert.ok(!m({ n: '6' }, ['n', '>', 5]), 'a string is not > a number')
  assert.ok(!m({ n: true }, ['n', '>', 5]))
  assert.ok(!m({}, ['n', '<', 5]))
  assert.ok(m({ s: 'b' }, ['s', '>=', 'a']))
  assert.ok(!m({ s: null }, ['s', '>=', 'a']))
  assert.ok(m({ d: false }, ['d', '==', false]))
  assert.ok(!m({ d: 0 }, ['d', '==', false]))
  assert.ok(!m({}, ['d', '==', null]), 'missing is not null')
  assert.ok(m({ d: null }, ['d', '==', null]))
  assert.ok(m({ d: true }, ['d', '>', false]))
  assert.ok(m({ a: { b: 2 } }, ['a.b', 'in', [1, 2]]))
  assert.ok(!m({ n: 3 }, ['n', '>', 1], ['n', '<', 3]))
  assert.ok(m({ n: 2 }, ['n', '>', 1], ['n', '<', 3], ['n', 'in', [2, 4]]))
  assert.ok(!m({ n: 2 }, ['n', '==', 2], ['n', '==', 3]), 'contradiction')
  assert.ok(!m(null, ['n', '==', 2]))
  assert.ok(m({ x: 1 }), 'no clause: every live document')
})

test('comparator: fields then id; missing last ascending, first descending', () => {
  const docs = [{ id: 'c', n: 1 }, { id: 'a', n: 2 }, { id: 'b', n: 1 }, { id: 'd' }]
  assert.deepEqual(docs.slice().sort(comparator([{ field: 'n', dir: 'asc' }])).map((d) => d.id), ['b', 'c', 'a', 'd'])
  assert.deepEqual(docs.slice().sort(comparator([{ field: 'n', dir: 'desc' }])).map((d) => d.id), ['d', 'a', 'c', 'b'])
  assert.deepEqual(docs.slice().sort(comparator([])).map((d) => d.id), ['a', 'b', 'c', 'd'])
})

test('indexDefs: names, key paths, and refused declarations', () => {
  const defs = indexDefs({ todos: ['team', ['team', 'done'], 'team'] })
  assert.deepEqual(defs.get('todos'), [
    { name: 'q:todos:team', fields: ['team'], keyPath: ['c', 'k.team', 'id'] },
    { name: 'q:todos:team,done', fields: ['team', 'done'], keyPath: ['c', 'k.team', 'k.done', 'id'] },
  ])
  assert.throws(() => indexDefs({ t: ['a-b'] }), /bad index/)
  assert.throws(() => indexDefs({ t: [[]] }), /bad index/)
  assert.throws(() => indexDefs({ t: [['a', 'a']] }), /bad index/)
  assert.throws(() => indexDefs({ t: ['a', 'a.b'] }), /cannot both be indexed/)
  assert.throws(() => indexDefs({ t: 'a' }), /list/)
  assert.deepEqual(derivedKeys({ a: { b: true }, c: null }, indexDefs({ t: ['a.b', ['c', 'e']] }).get('t')), { a: { b: TRUE }, c: NULL, e: MISSING })
})

// ---- plans against brute force -------------------------------------------------------------------
function rng(seed) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}
const pick = (r, a) => a[Math.floor(r() * a.length)]
const VALUES = [0, 1, 2, 3, -1.5, 'a', 'b', 'bb', '', null, true, false, undefined, new Date(10), new Date(20), { o: 1 }]
const FIELDS = ['x', 'y', 'z']
const DEFS = indexDefs({ t: ['x', ['x', 'y'], ['y', 'z', 'x'], 'z'] }).get('t')

function randomDoc(r, i) {
  const d = { id: 'd' + String(Math.floor(r() * 1000)).padStart(3, '0') + i }
  for (const f of FIELDS) if (r() < 0.85) d[f] = pick(r, VALUES)
  return d
}
function randomSpec(r) {
  const where = []
  const n = Math.floor(r() * 3)
  for (let i = 0; i < n; i++) {
    const op = pick(r, ['==', '==', 'in', '<', '<=', '>', '>='])
    const ok = VALUES.filter((v) => encode(v) !== MISSING)
    where.push({ field: pick(r, FIELDS), op, value: op === 'in' ? [pick(r, ok), pick(r, ok)] : pick(r, ok) })
  }
  const order = []
  for (let i = Math.floor(r() * 3); i > 0; i--) order.push({ field: pick(r, FIELDS), dir: r() < 0.5 ? 'asc' : 'desc' })
  return { coll: 't', where, order, limit: r() < 0.5 ? Math.floor(r() * 5) : null, after: null }
}
const inRange = (key, rg) => cmpKey(key, rg.lo) >= 0 && (rg.hiOpen ? cmpKey(key, rg.hi) < 0 : cmpKey(key, rg.hi) <= 0)

/** What the IndexedDB adapter does with a plan, over an in-memory "index". */
function simulate(q, docs) {
  const { plan: p, cons, cmp, spec } = q
  const keep = (d) => matches(d, cons) && (!spec.after || cmp(d, spec.after) > 0)
  let out
  if (!p.index) out = docs.filter(keep)
  else {
    const recs = docs.map((doc) => ({ c: 't', id: doc.id, doc, k: derivedKeys(doc, DEFS) })).map((rec) => ({ rec, key: indexKey(rec, p.index) }))
    recs.sort((a, b) => cmpKey(a.key, b.key))
    if (p.dir === 'prev') recs.reverse()
    const ranges = spec.after && p.ordered ? rangesAfter(p, spec.order, spec.after) : p.ranges
    out = []
    for (const rg of ranges) {
      const inR = recs.filter((x) => inRange(x.key, rg)).map((x) => x.rec.doc)
      if (p.exact) assert.deepEqual(inR.filter((d) => !matches(d, cons)), [], 'exact plan: every key in range matches')
      let kept = inR.filter(keep)
      if (p.ordered && spec.limit != null) kept = kept.slice(0, spec.limit)
      out.push(...kept)
    }
  }
  out.sort(cmp)
  return spec.limit == null ? out : out.slice(0, spec.limit)
}

test('plans: index ranges (and cursors) return what brute force returns, for random queries', () => {
  const r = rng(11)
  let indexed = 0
  for (let round = 0; round < 300; round++) {
    const docs = Array.from({ length: 40 }, (_, i) => randomDoc(r, i))
    const spec = randomSpec(r)
    for (const w of spec.where) checkWhere(w)
    const q = prepare(spec, DEFS)
    if (q.plan.index) indexed++
    const brute = docs.filter((d) => matches(d, q.cons)).sort(q.cmp)
    const want = spec.limit == null ? brute : brute.slice(0, spec.limit)
    assert.deepEqual(simulate(q, docs).map((d) => d.id), want.map((d) => d.id), JSON.stringify(spec))
    // the next page, after each document of the full result
    for (const at of brute.slice(0, 6)) {
      const qa = prepare({ ...spec, after: at }, DEFS)
      const rest = brute.filter((d) => q.cmp(d, at) > 0)
      assert.deepEqual(simulate(qa, docs).map((d) => d.id), (spec.limit == null ? rest : rest.slice(0, spec.limit)).map((d) => d.id), 'after ' + at.id)
    }
  }
  assert.ok(indexed > 150, `most random queries use an index (${indexed})`)
})

test('plan choice: equality prefix first, then order; in lists make one range per value', () => {
  const defs = indexDefs({ t: ['updatedAt', ['team', 'done', 'updatedAt'], 'team'] }).get('t')
  const p = (where, order = [], limit = null) => prepare({ coll: 't', where: where.map(([field, op, value]) => ({ field, op, value })), order, limit, after: null }, defs).plan
  const a = p([['team', '==', 'x'], ['done', '==', false]], [{ field: 'updatedAt', dir: 'desc' }], 20)
  assert.equal(a.index.name, 'q:t:team,done,updatedAt')
  assert.deepEqual([a.ordered, a.exact, a.dir, a.ranges.length], [true, true, 'prev', 1])
  const b = p([['team', 'in', ['x', 'y']], ['done', 'in', [true, false]]])
  assert.equal(b.ranges.length, 4)
  assert.equal(p([['team', '==', 'x']]).index.name, 'q:t:team', 'the shorter index when it does as well')
  assert.equal(p([], [{ field: 'updatedAt', dir: 'asc' }]).index.name, 'q:t:updatedAt', 'an index that only orders')
  assert.equal(p([['title', '==', 'x']]).index, null, 'no index on title: scan')
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => i)
  assert.equal(p([['team', 'in', many]]).index, null, 'too many ranges: not by that index')
  assert.equal(p([['team', '==', 1], ['team', '==', 2]]).ranges.length, 0, 'contradiction: nothing to read')
})

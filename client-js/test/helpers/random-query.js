// Random documents and queries for the live query tests (test/core/live-window.test.js,
// test/node/live-query.test.js): few fields and few values, so that equal keys (ties broken by
// id), boundaries, null/booleans/missing fields and type changes are common.

/** mulberry32: a seeded generator, so a failure can be replayed from its seed */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const FIELDS = ['a', 'b', 'n']
const VALUES = { a: [0, 1, 2, 3, 'x', 'y', null, undefined], b: [true, false, null, undefined], n: [0, 1, 2, 3, 4, 5, 6, 2.5, undefined] }
export const pick = (r, list) => list[Math.floor(r() * list.length)]

/** A random document (each field drawn; an undefined one is absent). */
export function randomDoc(r, id) {
  const d = { id }
  for (const f of FIELDS) {
    const v = pick(r, VALUES[f])
    if (v !== undefined) d[f] = v
  }
  return d
}

/** A random query spec: 0-2 where clauses, 0-2 orderBy, a limit (0-7) or none, a startAfter cursor or none. */
export function randomSpec(r, ids, coll = 'c') {
  const where = []
  for (let i = Math.floor(r() * 3); i > 0; i--) {
    const field = pick(r, FIELDS)
    const op = pick(r, ['==', '<', '<=', '>', '>=', 'in'])
    const vals = VALUES[field].filter((v) => v !== undefined)
    const value = op === 'in' ? vals.filter(() => r() < 0.4) : pick(r, vals)
    where.push({ field, op, value })
  }
  const order = []
  for (let i = Math.floor(r() * 3); i > 0; i--) order.push({ field: pick(r, FIELDS), dir: r() < 0.5 ? 'asc' : 'desc' })
  const limit = r() < 0.3 ? null : Math.floor(r() * 8)
  const after = r() < 0.25 ? randomDoc(r, pick(r, ids)) : null
  return { coll, where, order, limit, after }
}

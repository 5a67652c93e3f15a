// Seeded, reproducible generator of hub→client frame sequences for the client fuzzer.
//
// An *input* is one short session, a plain JSON object (stored as is in corpus/):
//   {v: 1, seed, index, user, token, writes: [{c, id, doc|null}], steps: [step...]}
// `writes` are made offline, before the socket opens; `steps` follow the opening of the socket:
//   {k: 'msg', m, valid?, ops?}  a message template, encoded at delivery time (`materialize`);
//                                `valid`: a conforming hub could send it as is; `ops`: byte-level
//                                mutations of the encoded frame (positions taken modulo its length)
//   {k: 'raw', hex}              random bytes
//   {k: 'text', s}               a text frame
//   {k: 'big', n}                a binary frame of n bytes (above the client's maxFrame)
//   {k: 'close', code, reason}   the hub closes the socket
//   {k: 'wait', ms}              fake time passes (liveness, reconnect, token refresh timers)
//   {k: 'put', c, id, doc} | {k: 'refresh'}   the app writes / asks for a token refresh mid-session
//   {k: 'burst', steps}          frames (and `close`, `fire`: the timers due now, `open`: the newest
//                                socket opens) in one event-loop turn, no database work between them
//
// Templates are JSON with tags for what JSON cannot hold or should not spell out:
//   {$big: '123'} bigint · {$num: 'NaN' | 'Infinity' | '-Infinity' | '-0'} · {$bin: [n, byte]}
//   {$date: ms} · {$ext: [type, n]} · {$undef: 1} · {$str: [n, s]} (s repeated n times)
//   {$rep: [n, v]} (list of n v) · {$wide: [n, v]} (map k0..k(n-1) → v) · {$deep: [n, 'm'|'a', leaf]}
//   {$obj: {...}} (a map whose keys may start with `$`, or be `__proto__`)
//   {$ref: 'sub', c} the sub id the client sent for c on this socket · {$ref: 'ver'} a fresh version
//   {$ref: 'cur'} the hub's cursor · {$ref: 'ack'} ok results for the oldest unanswered `mut` batch
import { Encoder, ExtData } from '@msgpack/msgpack'

export const COLLS = ['todos', 'notes']
export const EPOCH = 'e1'
export const KNOWN_TYPES = ['welcome', 'page', 'synced', 'resync', 'chg', 'ack', 'error', 'authed', 'unsub', 'ping', 'pong']
/** decoder and frame limits the harness gives the client (a smaller maxFrame keeps 4009 cases cheap) */
export const MAX_FRAME = 1 << 20

// ---- randomness -------------------------------------------------------------------------------

/** 32-bit hash of (seed, index): the seed of one input. */
export function inputSeed(seed, index) {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index >>> 0, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return (h ^ (h >>> 16)) >>> 0
}

/** mulberry32 with helpers. */
export function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** pick from [[weight, value], ...] */
    weighted(pairs) {
      let x = next() * pairs.reduce((s, [w]) => s + w, 0)
      for (const [w, v] of pairs) if ((x -= w) < 0) return v
      return pairs[pairs.length - 1][1]
    },
    word: (n = r.range(1, 8)) => Array.from({ length: n }, () => String.fromCharCode(97 + r.int(26))).join(''),
  }
  return r
}

// ---- valid templates --------------------------------------------------------------------------

const ver = () => ({ $ref: 'ver' })
const cur = () => ({ $ref: 'cur' })
const sub = (c) => ({ $ref: 'sub', c })

function smallDoc(r) {
  const d = { title: r.word(), n: r.range(-1000, 1000) }
  if (r.chance(0.3)) d.tags = Array.from({ length: r.int(4) }, () => r.word())
  if (r.chance(0.3)) d.nested = { ok: r.chance(0.5), at: { $date: 1.7e12 + r.int(1e9) } }
  if (r.chance(0.1)) d.big = { $big: String(2n ** 60n + BigInt(r.int(1000))) }
  if (r.chance(0.1)) d.bin = { $bin: [r.int(8), r.int(256)] }
  if (r.chance(0.1)) d.f = r.next()
  return d
}
const docId = (r) => r.pick(['a', 'b', 'c', 'd', 'x' + r.int(50)])
const change = (r) => [docId(r), ver(), r.chance(0.15) ? null : smallDoc(r)]
const changes = (r, max) => Array.from({ length: r.int(max + 1) }, () => change(r))

export function welcome(r, user) {
  const m = { t: 'welcome', v: 1, hub: 'h-' + r.word(3), ping_ms: r.pick([1000, 5000, 15000]), max_batch: r.pick([1, 2, 50, 500]), max_frame: MAX_FRAME }
  if (user !== undefined || r.chance(0.5)) m.user = user ?? null
  if (r.chance(0.5)) m.doc_limits = { bytes: r.pick([262144, 30000, 1 << 20]), entries: r.pick([10000, 20000]), depth: r.pick([16, 32]) }
  return m
}

/** A frame a conforming hub could send in some session (refs make it fit this one). */
export function validMessage(r, user) {
  const c = r.pick(COLLS)
  const type = r.weighted([[14, 'page'], [12, 'synced'], [18, 'chg'], [18, 'ack'], [5, 'ping'], [2, 'pong'], [5, 'resync'], [5, 'error'], [4, 'authed'], [3, 'unsub'], [4, 'welcome']])
  switch (type) {
    case 'welcome':
      return welcome(r, user)
    case 'page': {
      const ch = changes(r, 5)
      return { t: 'page', coll: c, id: sub(c), changes: ch, done: ch.length + r.int(10), total: r.chance(0.5) ? null : r.int(100), cursor: r.chance(0.3) ? null : cur() }
    }
    case 'synced':
      return { t: 'synced', coll: c, id: sub(c), cursor: cur(), mode: r.pick(['snapshot', 'catchup']), reset: r.chance(0.5) }
    case 'chg':
      return { t: 'chg', coll: c, changes: changes(r, 4), cursor: cur() }
    case 'ack':
      return { t: 'ack', results: { $ref: 'ack' } }
    case 'ping':
    case 'pong':
      return { t: type, n: r.int(1000) }
    case 'resync': {
      const reason = r.pick(['epoch', 'retention', 'cq_lost', 'slow', 'auth'])
      return { t: 'resync', coll: c, reason, mode: reason === 'cq_lost' || reason === 'slow' ? r.pick(['snapshot', 'catchup']) : 'snapshot' }
    }
    case 'error':
      return r.chance(0.5)
        ? { t: 'error', code: r.pick([4403, 4404]), msg: 'refused', ref: sub(c) }
        : { t: 'error', code: r.pick([4010, 4001, 4510]), msg: r.word(), ref: null }
    case 'authed':
      return { t: 'authed', exp: r.chance(0.3) ? null : Math.floor(1.7e9 + r.int(1e6)) }
    case 'unsub':
      return { t: 'unsub', coll: c, id: sub(c), code: 4403, msg: 'forbidden' }
  }
  throw new Error(type)
}

// ---- structural mutation ----------------------------------------------------------------------

const HUGE_STR = () => ({ $str: [300 * 1024, 'x'] })

/** A value of some other type or size: the palette of structural mutations. */
export function oddValue(r) {
  return r.weighted([
    [6, () => null],
    [3, () => r.chance(0.5)],
    [4, () => r.pick([0, -1, 1, 7, -(2 ** 31), 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1e300])],
    [4, () => ({ $big: r.pick(['9223372036854775807', '-9223372036854775808', '18446744073709551615', '-1', '9007199254740993']) })],
    [3, () => ({ $num: r.pick(['NaN', 'Infinity', '-Infinity', '-0']) })],
    [3, () => r.pick([0.5, -2.25, 1.5e-300])],
    [5, () => r.pick(['', 'x', '\u0000', 'page', 'welcome', '$oversize', '日本語'.repeat(40), '\ud800', '🙂'.repeat(30)])],
    [1, () => ({ $str: [r.range(1000, 70000), r.pick(['a', 'é', '日'])] })],
    [0.3, HUGE_STR],
    [2, () => ({ $bin: [r.int(300), r.int(256)] })],
    [1, () => ({ $date: r.pick([0, -1, 8.64e15, 1.7e12]) })],
    [2, () => ({ $ext: [r.pick([1, 5, 127, -2]), r.int(80)] })],
    [3, () => ({ $undef: 1 })],
    [4, () => []],
    [4, () => ({})],
    [2, () => [[[r.word()]]]],
    [2, () => ({ $deep: [r.pick([17, 20, 40, 200, 1000]), r.pick(['m', 'a']), r.pick([1, null, 'x'])] })],
    [1, () => ({ $rep: [r.pick([10001, 20000, 200001]), r.pick([0, null, 'x'])] })],
    [0.5, () => ({ $wide: [r.pick([10001, 12000]), 1] })],
    [2, () => ({ $obj: { $oversize: { reason: 'bytes', limit: 1, size: r.int(1e6) } } })],
    [1, () => ({ $obj: { __proto__: { polluted: true } } })],
    [2, () => smallDoc(r)],
    [2, () => ({ $ref: r.pick(['ver', 'cur', 'ack']) })],
    [2, () => ['e1', { $ref: 'ver' }, 'extra']],
  ])()
}

const isTag = (v) => v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length >= 1 && Object.keys(v)[0].startsWith('$')

/** Every [parent, key] of a template (tags are leaves; `$obj` maps are walked). */
function slots(v, out = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([v, i])
      slots(x, out)
    })
  } else if (v && typeof v === 'object') {
    const o = v.$obj && Object.keys(v).length === 1 ? v.$obj : isTag(v) ? null : v
    if (o) for (const k of Object.keys(o)) {
      out.push([o, k])
      slots(o[k], out)
    }
  }
  return out
}

const clone = (v) => JSON.parse(JSON.stringify(v))

/** Apply 1..3 structural mutations to a copy of template `m`. */
export function mutate(r, m) {
  const out = clone(m)
  for (let i = 0, n = r.range(1, 3); i < n; i++) {
    // the type and the fields that name things get more attention than their share of slots
    if (r.chance(0.12)) {
      out.t = r.weighted([[3, () => r.pick(KNOWN_TYPES)], [3, () => r.pick(['surprise', 'Page', 'mut', 'sub', 'hello', 'auth', ''])], [2, () => oddValue(r)]])()
      continue
    }
    if (r.chance(0.08)) {
      delete out[r.pick(Object.keys(out))]
      continue
    }
    if (r.chance(0.06)) {
      out[r.pick(['zz', 'extra', 'id', 'cursor', 'changes', 'results'])] = oddValue(r)
      continue
    }
    const all = slots(out)
    if (!all.length) continue
    const [parent, key] = r.pick(all)
    const old = parent[key]
    parent[key] = r.weighted([
      [10, () => oddValue(r)],
      [2, () => (typeof old === 'number' ? r.pick([-old, old + 1, old - 1, old * 2 ** 40, 0]) : oddValue(r))],
      [2, () => (typeof old === 'string' ? r.pick(['', old + old, old.toUpperCase(), old + '\u0000']) : oddValue(r))],
      [2, () => (Array.isArray(old) ? r.pick([[], old.slice(0, r.int(old.length + 1)), [...old, ...old], [old]]) : oddValue(r))],
      [1, () => (Array.isArray(parent) ? undefined : oddValue(r))],
    ])()
    if (parent[key] === undefined) Array.isArray(parent) ? parent.splice(key, 1) : delete parent[key]
  }
  return out
}

/** Frames a conforming hub never sends but whose fields are all well typed. */
function semanticOdd(r, user) {
  const c = r.pick([...COLLS, 'other', 'x'.repeat(300)])
  const seq = () => r.pick([1, 2, 3, 4, 5, 0, -1, 99, 2 ** 40, 2 ** 53 - 1])
  return r.weighted([
    // acks for seqs never sent, sent twice, statuses of every kind
    [6, () => ({
      t: 'ack',
      results: Array.from({ length: r.range(1, 4) }, () => {
        const s = r.pick(['ok', 'dup', 'conflict', 'rejected', 'merged', 'error'])
        const res = { seq: seq(), s, ver: r.chance(0.8) ? ver() : oddValue(r) }
        if (s !== 'ok' && s !== 'error') res.doc = r.chance(0.8) ? smallDoc(r) : oddValue(r)
        if (s === 'error') Object.assign(res, { code: r.pick([4001, 4403, 4413, 4504, 4529, 5000]), msg: r.word() })
        return res
      }),
    })],
    // pages and syncs for subscriptions that do not exist, stale or future ids
    [3, () => ({ t: 'page', coll: c, id: r.pick([0, -1, 1, 2, 3, 1000, sub(r.pick(COLLS))]), changes: changes(r, 3), done: r.int(5), total: null, cursor: cur() })],
    [3, () => ({ t: 'synced', coll: c, id: r.pick([0, 1, 2, 5, 1000, sub(r.pick(COLLS))]), cursor: r.pick([cur(), [EPOCH, 0], ['e2', { $ref: 'ver' }]]), mode: r.pick(['snapshot', 'catchup', 'weird']), reset: r.chance(0.5) })],
    // live changes for collections never subscribed, cursors of another epoch, versions out of range
    [4, () => ({ t: 'chg', coll: c, changes: [[docId(r), r.pick([ver(), 0, -5, { $big: '18446744073709551615' }, { $big: '9223372036854775807' }]), smallDoc(r)]], cursor: r.pick([cur(), ['e2', 1], [EPOCH, -1], [EPOCH, { $big: '18446744073709551615' }], ['', 0]]) })],
    // documents beyond the shared limits (which a conforming hub replaces by a placeholder)
    [4, () => ({ t: 'chg', coll: r.pick(COLLS), changes: [[docId(r), ver(), r.pick([{ l: { $rep: [10001, 0] } }, { $wide: [10001, 1] }, { d: { $deep: [r.pick([16, 17, 40, 1000]), r.pick(['m', 'a']), 1] } }, { s: HUGE_STR() }])]], cursor: cur() })],
    [2, () => ({ t: 'error', code: r.pick([4010, 4403, 4404, 0, -1, 2 ** 40]), msg: r.pick(['', 'x', '日本語']), ref: r.pick([null, 0, 1, 2, 3, 99, sub(r.pick(COLLS))]) })],
    [2, () => ({ t: 'unsub', coll: c, id: r.pick([0, 1, 2, 99, sub(r.pick(COLLS))]), code: r.pick([4403, 4500, 0]), msg: '' })],
    [2, () => ({ t: 'authed', exp: r.pick([0, -1, 1, 2 ** 31, Number.MAX_SAFE_INTEGER, 1.7e9]) })],
    [3, () => ({ ...welcome(r, user), ...r.pick([{ ping_ms: r.pick([0, -1, 1, 2 ** 30, 2 ** 31, 2 ** 52]) }, { max_batch: r.pick([0, -5, 2 ** 32, 2 ** 40]) }, { max_frame: r.pick([0, -1, 10, 2 ** 40]) }, { doc_limits: { bytes: r.pick([0, 1, 2 ** 40]), entries: r.pick([0, 1, 2 ** 31]), depth: r.pick([0, 1, 100]) } }, { user: r.pick(['mallory', '', 7]) }, { v: r.pick([0, 2, -1]) }]) })],
  ])()
}

// ---- byte-level mutation ----------------------------------------------------------------------

/** Byte ops on an encoded frame; positions are taken modulo the frame length at delivery. */
function byteOps(r) {
  return r.weighted([
    [4, () => Array.from({ length: r.range(1, 4) }, () => ['flip', r.int(1 << 20), 1 << r.int(8)])],
    [3, () => [['set', r.int(1 << 20), r.int(256)]]],
    [3, () => [['trunc', r.int(1 << 20)]]],
    [2, () => [['splice', r.int(1 << 20), r.int(4), bytesHex(r, r.range(1, 6))]]],
    [2, () => [['append', bytesHex(r, r.range(1, 4))]]],
    [1, () => [['dup', r.int(1 << 20), r.range(1, 16)]]],
  ])()
}
const bytesHex = (r, n) => Array.from({ length: n }, () => r.int(256).toString(16).padStart(2, '0')).join('')

/** @param {Uint8Array} b @param {any[][]} ops */
export function applyByteOps(b, ops) {
  let out = Uint8Array.from(b)
  for (const [op, a, x, hex] of ops) {
    const at = out.length ? a % out.length : 0
    if (op === 'flip') out[at] ^= x
    else if (op === 'set') out[at] = x
    else if (op === 'trunc') out = out.slice(0, at) // always drops at least one byte
    else if (op === 'splice') out = concat(out.slice(0, at), hexBytes(hex), out.slice(Math.min(at + x, out.length)))
    else if (op === 'append') out = concat(out, hexBytes(a))
    else if (op === 'dup') out = concat(out.slice(0, Math.min(at + x, out.length)), out.slice(at))
  }
  return out
}
const hexBytes = (h) => Uint8Array.from((h.match(/../g) || []).map((x) => parseInt(x, 16)))
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let o = 0
  for (const p of parts) out.set(p, (o += p.length) - p.length)
  return out
}

// ---- inputs -----------------------------------------------------------------------------------

/**
 * One input: a short session.
 * @param {number} seed @param {number} index
 */
export function generate(seed, index) {
  const r = rng(inputSeed(seed, index))
  const user = r.chance(0.3) ? 'alice' : null
  const token = r.weighted([[3, 'static'], [2, 'jwt'], [1, 'none']])
  const writes = []
  for (let i = 0, n = r.range(2, 3); i < n; i++) {
    // sometimes the same document twice: the second write depends on the first
    const c = r.pick(COLLS)
    const id = i > 0 && r.chance(0.3) ? writes[i - 1].id : 'w' + i
    const cc = i > 0 && writes[i - 1].id === id ? writes[i - 1].c : c
    writes.push({ c: cc, id, doc: r.chance(0.15) && i > 0 ? null : { id, title: r.word(), i } })
  }
  const steps = []
  const start = r.weighted([[8, 'welcome'], [1, 'mutated-welcome'], [1, 'none']])
  if (start === 'welcome') steps.push({ k: 'msg', m: welcome(r, user ?? undefined), valid: true })
  else if (start === 'mutated-welcome') steps.push({ k: 'msg', m: mutate(r, welcome(r, user ?? undefined)) })
  const n = r.chance(0.1) ? r.range(12, 30) : r.range(1, 12)
  for (let i = 0; i < n; i++) steps.push(step(r, user))
  return { v: 1, seed, index, user, token, writes, steps }
}

function step(r, user) {
  const kind = r.weighted([
    [30, 'valid'], [22, 'mutated'], [10, 'semantic'], [14, 'bytes'], [4, 'raw'], [3, 'text'], [1, 'big'],
    [7, 'wait'], [3, 'close'], [2, 'put'], [2, 'refresh'], [2, 'flood'], [6, 'burst'], [6, 'batch'],
  ])
  const u = user ?? undefined
  switch (kind) {
    case 'valid':
      return { k: 'msg', m: validMessage(r, u), valid: true }
    case 'mutated':
      return { k: 'msg', m: mutate(r, validMessage(r, u)) }
    case 'semantic':
      return { k: 'msg', m: semanticOdd(r, u) }
    case 'bytes':
      return { k: 'msg', m: validMessage(r, u), ops: byteOps(r) }
    case 'raw':
      return { k: 'raw', hex: bytesHex(r, r.range(0, 48)) }
    case 'text':
      return { k: 'text', s: r.pick(['hello', '', '{"t":"ping","n":1}', '\u0000', 'x'.repeat(r.int(2000))]) }
    case 'big':
      return { k: 'big', n: MAX_FRAME + r.range(1, 4096) }
    case 'wait':
      return { k: 'wait', ms: r.pick([10, 500, 2500, 10000, 31000, 120000]) }
    case 'close':
      return { k: 'close', code: r.pick([1000, 1001, 1006, 1011, 4000, 4001, 4010, 4403, 4500, 4503, 4508, 4510, 4511, 4529, 4531, 4999]), reason: r.word() }
    case 'put':
      return { k: 'put', c: r.pick(COLLS), id: r.pick(['w0', 'w1', 'p' + r.int(5)]), doc: r.chance(0.2) ? null : { title: r.word() } }
    case 'refresh':
      return { k: 'refresh' }
    case 'burst':
      return { k: 'burst', steps: burst(r, u) }
    case 'batch':
      return batch(r, u)
    case 'flood':
      // a burst the client merges (consecutive chg of one collection, consecutive acks)
      return { k: 'msg', m: { t: 'chg', coll: r.pick(COLLS), changes: { $rep: [r.pick([20, 200, 2000]), change(r)] }, cursor: cur() }, valid: true }
  }
  throw new Error(kind)
}

/**
 * Frames in one message (docs/protocol.md "Batches"): valid ones are never refused; one mutated
 * may be; an element that is not a map (a nested batch too) next to valid frames closes with 4000.
 */
function batch(r, user) {
  const frames = Array.from({ length: r.range(1, 6) }, () => validMessage(r, user))
  const how = r.weighted([[5, 'valid'], [2, 'mutated'], [2, 'non-map']])
  if (how === 'valid') return { k: 'msg', m: frames, valid: true }
  if (how === 'mutated') {
    const i = r.int(frames.length)
    frames[i] = mutate(r, frames[i])
    return { k: 'msg', m: frames }
  }
  frames.splice(r.int(frames.length + 1), 0, r.pick([[validMessage(r, user)], [], 'chg', 7, null, true]))
  return { k: 'msg', m: frames, nonMap: true }
}

/**
 * Frames that arrive together (one event-loop turn, no database work in between), with the hub
 * closing, timers firing and a new socket opening in the middle: `{k: 'fire'}` fires the timers
 * due now, `{k: 'open'}` opens the newest socket.
 */
function burst(r, user) {
  const c = r.pick(COLLS)
  return r.weighted([
    // a welcome, then the connection is lost and the next one opens before the subscriptions
    // have read their cursors
    [3, () => [{ k: 'msg', m: welcome(r, user), valid: true }, { k: 'close', code: r.pick([4500, 1006, 4503]), reason: '' }, { k: 'fire' }, { k: 'open' }, ...(r.chance(0.5) ? [{ k: 'msg', m: welcome(r, user), valid: true }] : [])]],
    // the pages and the end of a sync, with live changes and acks merged by the client
    [3, () => Array.from({ length: r.range(2, 6) }, () => ({ k: 'msg', m: validMessage(r, user), valid: true }))],
    [3, () => Array.from({ length: r.range(2, 5) }, () => r.chance(0.5) ? { k: 'msg', m: validMessage(r, user), valid: true } : r.chance(0.5) ? { k: 'msg', m: mutate(r, validMessage(r, user)) } : { k: 'msg', m: semanticOdd(r, user) })],
    [2, () => [{ k: 'msg', m: { t: 'chg', coll: c, changes: changes(r, 2), cursor: cur() }, valid: true }, { k: 'msg', m: { t: 'chg', coll: c, changes: changes(r, 2), cursor: cur() }, valid: true }, { k: 'close', code: 1006, reason: '' }, { k: 'fire' }, { k: 'open' }]],
    // merged bursts too large for a spread into a call
    [0.2, () => [{ k: 'msg', m: { t: 'chg', coll: c, changes: changes(r, 1), cursor: cur() }, valid: true }, { k: 'msg', m: { t: 'chg', coll: c, changes: { $rep: [150000, change(r)] }, cursor: cur() }, valid: true }]],
    [0.2, () => [{ k: 'msg', m: { t: 'ack', results: { $ref: 'ack' } }, valid: true }, { k: 'msg', m: { t: 'ack', results: { $rep: [150000, { seq: r.range(1, 3), s: 'ok', ver: ver() }] } } }]],
  ])()
}

// ---- materialisation --------------------------------------------------------------------------

const encoder = new Encoder({ useBigInt64: true, maxDepth: 1 << 20 })

/**
 * Turn a template into the value to encode.
 * @param {unknown} v
 * @param {(name: string, tag: any) => unknown} ref resolves `$ref` tags against the session
 */
export function materialize(v, ref) {
  if (Array.isArray(v)) return v.map((x) => materialize(x, ref))
  if (!v || typeof v !== 'object') return v
  const keys = Object.keys(v)
  if (keys.length >= 1 && keys[0].startsWith('$') && keys[0] !== '$obj' || (keys.length === 1 && keys[0] === '$obj')) {
    const [k] = keys
    const a = v[k]
    switch (k) {
      case '$big': return BigInt(a)
      case '$num': return Number(a === '-0' ? -0 : a)
      case '$bin': return new Uint8Array(a[0]).fill(a[1])
      case '$date': return new Date(a)
      case '$ext': return new ExtData(a[0], new Uint8Array(a[1]).fill(1))
      case '$undef': return undefined
      case '$str': return a[1].repeat(a[0])
      case '$rep': {
        const x = materialize(a[1], ref)
        return Array.from({ length: a[0] }, () => x)
      }
      case '$wide': {
        const x = materialize(a[1], ref)
        const o = {}
        for (let i = 0; i < a[0]; i++) o['k' + i] = x
        return o
      }
      case '$deep': {
        let x = materialize(a[2], ref)
        for (let i = 1; i < a[0]; i++) x = a[1] === 'm' ? { d: x } : [x]
        return x
      }
      case '$obj': return plain(a, ref)
      case '$ref': return ref(a, v)
    }
  }
  return plain(v, ref)
}

/** A map with own properties only (`__proto__` included, as a decoder would see it on the wire). */
function plain(o, ref) {
  const out = {}
  for (const k of Object.keys(o)) {
    if (k === '__proto__') Object.defineProperty(out, k, { value: materialize(o[k], ref), enumerable: true, writable: true, configurable: true })
    else out[k] = materialize(o[k], ref)
  }
  return out
}

/** @param {unknown} value @returns {Uint8Array} */
export function encodeFrame(value) {
  return encoder.encode(value)
}

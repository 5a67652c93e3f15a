/**
 * Rooms: presence (who is here, with what state) and ephemeral broadcasts, on the client's own
 * connection (docs/protocol.md "Rooms"). A separate entry point, `synchub-client/presence`:
 *
 *   import { room } from 'synchub-client/presence'
 *   const r = room(client, 'doc-42')
 *   r.addEventListener('join', (e) => render(e.detail.members))
 *   r.join({ name: 'Ada', cursor: null })
 *
 * Events (`CustomEvent`, payload in `detail`): `join`, `leave`, `update` with `{member, members}`,
 * `message` with `{from, user, msg}`, `error` with `{code, msg}` (4403 forbidden, 4409 not
 * joined, 4413 too large, 4429 too many rooms, 4529 broadcast rate; 0: the hub serves no rooms).
 * A joined room joins again after every reconnect; the hub's snapshot then yields only the real
 * differences (a member that reconnected within the grace period never left).
 *
 * Rooms live on the tab that holds the connection (the leader tab); in another tab they wait
 * until this tab leads.
 */

/** @typedef {import('./client.js').SyncClient} SyncClient */
/** @typedef {{id: string, user: string | null, state: unknown}} Member */
/**
 * @typedef {object} RoomEventMap
 * @property {{member: Member, members: Member[]}} join
 * @property {{member: Member, members: Member[]}} leave
 * @property {{member: Member, members: Member[]}} update
 * @property {{from: string, user: string | null, msg: unknown}} message
 * @property {{code: number, msg: string}} error
 */

/**
 * Per client: its rooms, and whether the hub of the last `welcome` serves rooms (null: no
 * `welcome` seen since the first room was made, the client was live already; room frames are then
 * sent, a hub without rooms ignores them, and the next `welcome` tells).
 * @type {WeakMap<SyncClient, {rooms: Set<Room>, served: boolean | null}>}
 */
const entries = new WeakMap()

/**
 * The room `name` of `client` (one object per call; each is its own member, told apart by a tag).
 * @param {SyncClient} client
 * @param {string} name
 */
export function room(client, name) {
  if (typeof name !== 'string' || !name) throw new TypeError('room name required')
  let e = entries.get(client)
  if (!e) {
    const x = (e = { rooms: new Set(), served: /** @type {boolean | null} */ (null) })
    entries.set(client, x)
    // after whatever took `ext` before (query subscriptions): every frame reaches both
    const prev = client.ext
    client.ext = (m) => {
      // per client, not per room: a room made later, on the live connection, knows it too
      if (m.t === 'welcome') x.served = Array.isArray(m.features) && m.features.includes('rooms')
      x.rooms.forEach((r) => r.on(m))
      return prev(m)
    }
  }
  const r = new Room(client, name)
  e.rooms.add(r)
  return r
}

export class Room extends EventTarget {
  /** @type {Map<string, Member>} */
  #members = new Map()
  /** @type {{state: unknown} | null} what to join (again) with; null: not joined */
  #want = null
  #tag = Math.random().toString(36).slice(2, 10)

  /** @param {SyncClient} client @param {string} name */
  constructor(client, name) {
    super()
    this.client = client
    this.name = name
  }

  /** The hub serves rooms: false, true, or not known (null; undefined: not made by `room()`). */
  get #served() {
    return entries.get(this.client)?.served
  }

  /** The members, this client's own included, as last heard from the hub. */
  get members() {
    return [...this.#members.values()]
  }

  /** Enter the room with `state` (listed to the others), now or once connected. @param {unknown} [state] */
  join(state = null) {
    this.#want = { state }
    if (this.#served === false) this.#emit('error', null, { code: 0, msg: 'the hub serves no rooms' })
    else this.#send('join', { state })
    return this
  }

  /** Change this member's state. @param {unknown} state */
  update(state) {
    if (!this.#want) throw new Error('update: join first')
    this.#want.state = state
    this.#send('pupdate', { state })
  }

  leave() {
    if (!this.#want) return
    this.#send('leave', {})
    this.#want = null
    for (const m of this.#members.values()) this.#emit('leave', m)
    this.#members.clear()
  }

  /**
   * Send `msg` to the room's other members, now (nothing is kept: false when not connected).
   * @param {unknown} msg
   */
  broadcast(msg) {
    return this.#send('bcast', { msg })
  }

  /** Leave and forget this room object. */
  close() {
    this.leave()
    entries.get(this.client)?.rooms.delete(this)
  }

  /** @param {string} t @param {object} body @param {boolean} [welcome] sent while `welcome` is handled */
  #send(t, body, welcome) {
    const s = this.client.syncer
    if (!s?.sock || this.#served === false || !(welcome || s.welcomed) || (t !== 'join' && !this.#want)) return false
    s.sock.send({ t, room: this.name, tag: this.#tag, ...body })
    return true
  }

  /** @internal @param {any} m a frame from the hub */
  on(m) {
    if (m.t === 'welcome') {
      if (!this.#served && this.#want) this.#emit('error', null, { code: 0, msg: 'the hub serves no rooms' })
      else if (this.#want) this.#send('join', this.#want, true)
      return
    }
    if (m.room !== this.name) return
    if (m.t === 'rerror') return this.#emit('error', null, { code: m.code, msg: m.msg })
    if (m.t === 'bcast') return this.#emit('message', null, { from: m.from, user: m.user, msg: m.msg })
    if (!this.#want) return
    if (m.t === 'members') {
      const now = new Map(m.members.map((/** @type {Member} */ x) => [x.id, x]))
      const old = this.#members
      this.#members = now
      for (const [id, x] of old) if (!now.has(id)) this.#emit('leave', x)
      for (const [id, x] of now) {
        const was = old.get(id)
        if (!was) this.#emit('join', x)
        else if (JSON.stringify(was.state) !== JSON.stringify(x.state)) this.#emit('update', x)
      }
    } else if (m.t === 'left') {
      const x = this.#members.get(m.id)
      if (x && this.#members.delete(m.id)) this.#emit('leave', x)
    } else if (m.t === 'joined' || m.t === 'updated') {
      const had = this.#members.has(m.member.id)
      this.#members.set(m.member.id, m.member)
      this.#emit(had ? 'update' : 'join', m.member)
    }
  }

  /** @param {keyof RoomEventMap} type @param {Member | null} member @param {object} [detail] */
  #emit(type, member, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail: detail || { member, members: this.members } }))
  }
}

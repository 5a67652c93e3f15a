// A typed consumer of the package, compiled with `tsc` against the emitted declarations (types/,
// through the package's own `exports`) by `npm run test:types`, which `npm test` runs. Each
// `expectType` must hold exactly; each `@ts-expect-error` line must fail to compile (tsc reports
// an unused one), so a declaration that grows too loose or too strict breaks the build.
import { SyncClient, Collection, UnauthorizedError } from 'synchub-client'
import { query, indexes, observe, Query, LiveQuery, subset, syncNamed, Subset } from 'synchub-client/query'
import type { Snapshot, SnapshotMeta, Explain, SubsetEventMap } from 'synchub-client/query'
import { storage as storageInfo } from 'synchub-client/storage'
import type {
  Doc, Status, Change, WithId, WriteHandle, WriteResult, WriteStatus, PendingWrite, SyncError, ErrorKind,
  Conflict, SyncEventMap, SyncClientOptions, Env, StorageInfo, StoredChange,
} from 'synchub-client'

// exact type equality, as expect-type's `toEqualTypeOf`
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
declare function expectType<A>(): { toBe<B>(...ok: Equal<A, B> extends true ? [] : [never]): void }

interface Todo {
  title: string
  done: boolean
}

const env: Env = { WebSocket, indexedDB, locks: null, BroadcastChannel: null, events: null, document: null, now: Date.now }
const options: SyncClientOptions = { url: 'wss://example.org/sync', dbName: 'app', token: async () => 'jwt', env }
const client = new SyncClient(options)
// the platform hooks are grouped under `env`
// @ts-expect-error not an option any more (still read at run time, for 0.1 callers)
new SyncClient({ url: 'wss://x/sync', indexedDB })

// ---- collections: T flows through every method -------------------------------------------------
const todos = client.collection<Todo>('todos')
expectType<typeof todos>().toBe<Collection<Todo>>()
expectType<typeof todos.name>().toBe<string>()

async function collections() {
  const t = await todos.get('a')
  expectType<typeof t>().toBe<WithId<Todo> | undefined>()
  if (t) {
    expectType<typeof t.title>().toBe<string>()
    expectType<typeof t.id>().toBe<string>()
  }
  const all = await todos.getAll()
  expectType<typeof all>().toBe<WithId<Todo>[]>()

  // `await col.put(doc)` keeps working; its value is the write's handle
  const w = await todos.put({ id: 'a', title: 'Milk', done: false })
  expectType<typeof w>().toBe<WriteHandle<Todo>>()
  expectType<typeof w.seq>().toBe<number>()
  const r = await w.result
  expectType<typeof r>().toBe<WriteResult<Todo>>()
  expectType<typeof r.status>().toBe<WriteStatus>()
  expectType<typeof r.status>().toBe<'applied' | 'conflict' | 'rejected' | 'merged' | 'error'>()
  expectType<typeof r.code>().toBe<number | undefined>()
  expectType<typeof r.serverDoc>().toBe<WithId<Todo> | null | undefined>()
  if (r.serverDoc) expectType<typeof r.serverDoc.title>().toBe<string>()
  const d = await todos.delete('a')
  expectType<Awaited<typeof d.result>['status']>().toBe<WriteStatus>()

  // @ts-expect-error wrong field type
  await todos.put({ id: 'b', title: 1, done: false })
  // @ts-expect-error missing field
  await todos.put({ id: 'b', title: 'x' })
  // @ts-expect-error no id
  await todos.put({ title: 'x', done: false })
  // @ts-expect-error ids are strings
  await todos.delete(1)

  todos.subscribe((changes) => {
    expectType<typeof changes>().toBe<Change<Todo>[]>()
    for (const c of changes) {
      expectType<typeof c.type>().toBe<'put' | 'delete'>()
      expectType<typeof c.doc>().toBe<WithId<Todo> | null>()
      expectType<typeof c.origin>().toBe<'local' | 'remote'>()
    }
  })

  // untyped collections hold `Doc`s: fields are `unknown` until narrowed
  const loose = client.collection('notes')
  expectType<typeof loose>().toBe<Collection<Doc>>()
  const n = await loose.get('x')
  if (n) expectType<typeof n.anything>().toBe<unknown>()

  const pending = await client.pendingWrites()
  expectType<typeof pending>().toBe<PendingWrite[]>()
  expectType<(typeof pending)[number]['seq']>().toBe<number>()
}

// ---- events: a typed map; a misspelt name does not compile ------------------------------------
client.addEventListener('conflict', (e) => {
  expectType<typeof e.detail>().toBe<Conflict>()
  expectType<typeof e.detail.seq>().toBe<number>()
  expectType<typeof e.detail.outcome>().toBe<'conflict' | 'rejected' | 'merged' | 'dup'>()
})
client.addEventListener('error', (e) => {
  expectType<typeof e.detail>().toBe<SyncError>()
  expectType<typeof e.detail.kind>().toBe<ErrorKind>()
  expectType<typeof e.detail.code>().toBe<number>()
  expectType<typeof e.detail.message>().toBe<string>()
  expectType<typeof e.detail.retry>().toBe<boolean>()
  expectType<typeof e.detail.seq>().toBe<number | undefined>()
})
client.addEventListener('status', (e) => {
  expectType<typeof e.detail.newStatus>().toBe<Status>()
  if (e.detail.newStatus === 'unauthorized') client.reconnect()
  // @ts-expect-error not a status
  if (e.detail.newStatus === 'signed-out') return
})
expectType<Status>().toBe<'offline' | 'connecting' | 'syncing' | 'live' | 'unauthorized' | 'paused'>()
expectType<Extract<ErrorKind, 'unauthorized' | 'token'>>().toBe<'unauthorized' | 'token'>()

// ---- auth: a token function says "signed out" with UnauthorizedError; flush() rejects with it ----
new SyncClient({
  url: 'wss://x/sync',
  token: async () => {
    throw new UnauthorizedError('signed out')
  },
})
const signedOut = new UnauthorizedError()
expectType<typeof signedOut.name>().toBe<string>()
const isError: Error = signedOut
void isError
client.flush().catch((e: unknown) => e instanceof UnauthorizedError && client.reconnect())

// ---- storage: what the browser keeps, how much is used ----------------------------------------
const storageEnv: Env = { storage: { persist: async () => true, estimate: async () => ({ usage: 1, quota: 2 }) } }
void storageEnv
storageInfo(client).then((info) => {
  expectType<typeof info>().toBe<StorageInfo>()
  expectType<typeof info.persisted>().toBe<boolean>()
  expectType<typeof info.quota>().toBe<number | null>()
})
client.addEventListener('progress', (e) => expectType<typeof e.detail.total>().toBe<number | null>())
client.addEventListener('resync', (e) => expectType<typeof e.detail.coll>().toBe<string>())
const onStatus = (e: CustomEvent<SyncEventMap['status']>) => e.detail.oldStatus
client.addEventListener('status', onStatus)
client.removeEventListener('status', onStatus)
client.addEventListener('error', { handleEvent: () => {} })

// @ts-expect-error misspelt event name
client.addEventListener('conflcit', () => {})
// @ts-expect-error misspelt event name
client.removeEventListener('stauts', onStatus)
// @ts-expect-error the detail of `status` has no `kind`
client.addEventListener('status', (e) => e.detail.kind)
// @ts-expect-error a `conflict` listener is not a `status` listener
client.addEventListener('conflict', onStatus)

// ---- internals are not part of the API ---------------------------------------------------------
// @ts-expect-error internal
client.syncer
// @ts-expect-error internal
client.wq
// @ts-expect-error internal
client.ready
// @ts-expect-error internal
client.o
// @ts-expect-error internal
todos.client

// ---- queries (synchub-client/query): field names and values typed by T ----------------------------
interface Task {
  title: string
  done: boolean
  team: string
  updatedAt: number
}
const qclient = new SyncClient({ url: 'wss://x/sync', indexes: indexes({ tasks: ['updatedAt', ['team', 'done', 'updatedAt']] }) })
// @ts-expect-error `indexes` takes what indexes() returns, not the declaration itself
new SyncClient({ url: 'wss://x/sync', indexes: { tasks: ['team'] } })
const tasks = qclient.collection<Task>('tasks')
const q = query(tasks).where('team', '==', 'a').where('done', '==', false).orderBy('updatedAt', 'desc').limit(20)
expectType<typeof q>().toBe<Query<Task>>()
query(tasks).where('team', 'in', ['a', 'b']).where('updatedAt', '>=', 5).where('id', '==', 'x')
// @ts-expect-error no such field
query(tasks).where('titel', '==', 'x')
// @ts-expect-error `done` is a boolean
query(tasks).where('done', '==', 'yes')
// @ts-expect-error `in` takes a list
query(tasks).where('team', 'in', 'a')
// @ts-expect-error unknown operator
query(tasks).where('team', '!=', 'a')
// @ts-expect-error no such field
query(tasks).orderBy('updated')
// @ts-expect-error direction
query(tasks).orderBy('updatedAt', 'down')
// untyped collections take any field
query(client.collection('any')).where('whatever.nested', '>', 3)

async function queries() {
  const page = await q.get()
  expectType<typeof page>().toBe<WithId<Task>[]>()
  const next = await q.startAfter(page[page.length - 1]).get()
  expectType<typeof next[number]['updatedAt']>().toBe<number>()
  expectType<Awaited<ReturnType<typeof q.count>>>().toBe<number>()
  expectType<ReturnType<typeof q.explain>>().toBe<Explain>()
  const stop = q.observe((docs, meta) => {
    expectType<typeof docs>().toBe<WithId<Task>[]>()
    expectType<typeof meta>().toBe<SnapshotMeta>()
    expectType<typeof meta.pending>().toBe<boolean>()
  })
  expectType<typeof stop>().toBe<() => void>()
  observe(q, (docs) => expectType<typeof docs[number]['title']>().toBe<string>())
  // the pair useSyncExternalStore takes
  const lq = q.live()
  expectType<typeof lq>().toBe<LiveQuery<Task>>()
  const snap = lq.getSnapshot()
  expectType<typeof snap>().toBe<Snapshot<Task>>()
  expectType<typeof snap.fromCache>().toBe<boolean>()
  const unsub: () => void = lq.subscribe(() => {})
  unsub()
  lq.close()
  // the `acked` event
  qclient.addEventListener('acked', (e) => expectType<typeof e.detail>().toBe<WriteResult[]>())
  // the `change` event: every collection's changes, with their collection
  qclient.addEventListener('change', (e) => {
    expectType<typeof e.detail>().toBe<StoredChange[]>()
    expectType<(typeof e.detail)[number]['coll']>().toBe<string>()
  })
}

// ---- query subscriptions (partial sync), in synchub-client/query ----------------------------------
async function subsets() {
  const own = subset<Task>(qclient, 'tasks')
  expectType<typeof own>().toBe<Collection<Task>>()
  const h = query(own).where({ team: 'a', done: false }).sync()
  expectType<typeof h>().toBe<Subset>()
  // @ts-expect-error `done` is a boolean
  query(own).where({ done: 'no' })
  // @ts-expect-error no such field
  query(own).where({ titel: 'x' })
  h.addEventListener('progress', (e) => expectType<typeof e.detail>().toBe<SubsetEventMap['progress']>())
  h.addEventListener('error', (e) => expectType<typeof e.detail.code>().toBe<number>())
  expectType<typeof h.ready>().toBe<Promise<void>>()
  const named = syncNamed(own, 'room_messages', { room: 'R' })
  await named.end()
  h.close()
}

expectType<typeof client.status>().toBe<Status>()
void collections
void queries
void subsets

// ---- rooms: the `synchub-client/presence` entry point ---------------------------------------------
import { room, Room } from 'synchub-client/presence'
import type { Member } from 'synchub-client/presence'
const lobby = room(client, 'lobby').join({ cursor: null })
expectType<typeof lobby>().toBe<Room>()
expectType<typeof lobby.members>().toBe<Member[]>()
expectType<ReturnType<typeof lobby.broadcast>>().toBe<boolean>()
// @ts-expect-error a room needs a name
room(client)

// ---- framework bindings: synchub-client/react, /svelte, /vue -----------------------------------
import * as R from 'synchub-client/react'
import * as S from 'synchub-client/svelte'
import * as V from 'synchub-client/vue'
import type { Readable } from 'synchub-client/svelte'
import { shallowRef, type Ref } from 'vue'

function reactComponent(id: string) {
  const open = R.useLiveQuery(query(tasks).where('done', '==', false))
  expectType<typeof open>().toBe<WithId<Task>[]>()
  expectType<typeof open[number]['team']>().toBe<string>()
  const snap = R.useLiveSnapshot(q)
  expectType<typeof snap>().toBe<Snapshot<Task>>()
  const one = R.useDoc(tasks, id)
  expectType<typeof one>().toBe<WithId<Task> | null | undefined>()
  expectType<ReturnType<typeof R.useSyncStatus>>().toBe<Status>()
  expectType<ReturnType<typeof R.usePendingWrites>>().toBe<PendingWrite[]>()
  // untyped collections give Doc
  expectType<ReturnType<typeof R.useLiveQuery<Doc>>>().toBe<WithId<Doc>[]>()
  // @ts-expect-error a query, not a collection
  R.useLiveQuery(tasks)
  // @ts-expect-error the document's id is a string
  R.useDoc(tasks, 1)
  // @ts-expect-error a client, not a collection
  R.useSyncStatus(tasks)
}

function svelteStores() {
  const open = S.liveQuery(query(tasks).where('team', '==', 'a'))
  expectType<typeof open>().toBe<Readable<WithId<Task>[]>>()
  const unsub = open.subscribe((docs) => expectType<typeof docs[number]['updatedAt']>().toBe<number>())
  expectType<typeof unsub>().toBe<() => void>()
  S.liveSnapshot(q).subscribe((s) => expectType<typeof s.pending>().toBe<boolean>())
  S.doc(tasks, 'x').subscribe((d) => expectType<typeof d>().toBe<WithId<Task> | null | undefined>())
  S.syncStatus(qclient).subscribe((s) => expectType<typeof s>().toBe<Status>())
  S.pendingWrites(qclient).subscribe((w) => expectType<typeof w>().toBe<PendingWrite[]>())
  // @ts-expect-error a store's callback gets the documents, not a snapshot
  open.subscribe((docs: Snapshot<Task>) => docs)
}

function vueSetup(id: Ref<string>, done: Ref<boolean>) {
  const list = V.useLiveQuery(() => query(tasks).where('done', '==', done.value))
  expectType<typeof list.value>().toBe<WithId<Task>[]>()
  // a query, a ref to one or a getter
  expectType<ReturnType<typeof V.useLiveQuery<Task>>>().toBe<Readonly<Ref<WithId<Task>[]>>>()
  V.useLiveQuery(shallowRef(q))
  // @ts-expect-error a getter of a query, not of a collection
  V.useLiveQuery(() => tasks)
  const snap = V.useLiveSnapshot(q)
  expectType<typeof snap.value.fromCache>().toBe<boolean>()
  const one = V.useDoc(tasks, id)
  expectType<typeof one.value>().toBe<WithId<Task> | null | undefined>()
  expectType<typeof V.useSyncStatus extends (c: SyncClient) => Readonly<Ref<Status>> ? true : false>().toBe<true>()
  expectType<ReturnType<typeof V.usePendingWrites>['value']>().toBe<PendingWrite[]>()
  // @ts-expect-error the refs are read-only
  list.value = []
}
void reactComponent
void svelteStores
void vueSetup

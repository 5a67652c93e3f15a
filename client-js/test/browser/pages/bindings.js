// The page of test/browser/bindings.test.js, bundled by esbuild with React, React DOM and Vue: a
// client per test and small React, Svelte-store and Vue apps built on the package's bindings.
// Exposes `globalThis.T`; the test drives it with page.evaluate.
import { createElement as h, StrictMode, useEffect } from 'react'
import { createRoot } from 'react-dom/client'
import { createApp, h as vh, ref } from 'vue'
import { SyncClient } from 'synchub-client'
import { query, indexes } from 'synchub-client/query'
import { useLiveQuery, useDoc, useSyncStatus, usePendingWrites } from 'synchub-client/react'
import * as svelte from 'synchub-client/svelte'
import * as vue from 'synchub-client/vue'

const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
const mount = (id) => document.body.appendChild(Object.assign(document.createElement('div'), { id }))

/**
 * A client of the hub serving this page; it connects when `connect()` is called (its token
 * function waits until then), so writes made before stay pending.
 */
function makeClient(dbName) {
  let connect
  const gate = new Promise((r) => (connect = r))
  const client = new SyncClient({
    url: `${proto}//${location.host}/sync`,
    dbName,
    indexes: indexes({ todos: [['run', 'n'], ['run', 'done', 'n']] }),
    token: async () => (await gate, 'dev'),
  })
  listening(client)
  return { client, todos: client.collection('todos'), connect: () => connect() }
}

/** Subscribers of the collection `todos` (live queries and documents followed). */
const followers = (client) => client.subs.get('todos')?.size ?? 0
/** Count the client's event listeners by type (`client.listeners`). */
function listening(client) {
  const n = (client.listeners = {})
  const add = client.addEventListener.bind(client)
  const remove = client.removeEventListener.bind(client)
  const made = (client.made = {})
  client.addEventListener = (type, cb, o) => ((n[type] = (n[type] ?? 0) + 1), (made[type] = (made[type] ?? 0) + 1), add(type, cb, o))
  client.removeEventListener = (type, cb, o) => ((n[type] -= 1), remove(type, cb, o))
}
/** usePendingWrites let go of the client: it listens to neither `change` nor `acked` any more. */
const unwrapped = (client) => !client.listeners.change && !client.listeners.acked

function List({ todos, run, commits }) {
  const docs = useLiveQuery(query(todos).where('run', '==', run).orderBy('n'))
  // one per commit (StrictMode runs it twice at mount only); what each saw, for a failure message
  useEffect(() => {
    commits.n++
    const last = commits.seen.at(-1)
    const shape = (d) => JSON.stringify(d, (k, v) => (typeof v === 'bigint' ? v + 'n' : v)) + ':' + Object.keys(d).map((k) => typeof d[k]).join('/')
    commits.seen.push({ docs, titles: docs.map((d) => d.title).join(''), same: last ? docs.map((d, i) => d === last.docs[i]) : [], shapes: docs.map(shape).join(' ') })
  })
  return h('ul', { id: 'list' }, docs.length ? docs.map((d) => h('li', { key: d.id }, d.title)) : h('li', null, 'none'))
}

function Detail({ todos, id }) {
  const d = useDoc(todos, id)
  return h('p', { id: 'doc' }, d === undefined ? 'reading' : d === null ? 'absent' : d.title)
}

function Bar({ client }) {
  return h('p', { id: 'bar' }, `${useSyncStatus(client)} ${usePendingWrites(client).length}`)
}

function react(dbName, run) {
  const c = makeClient(dbName)
  const commits = { n: 0, seen: [] }
  const root = createRoot(mount('react'))
  root.render(h(StrictMode, null, h(Bar, c), h(List, { todos: c.todos, run, commits }), h(Detail, { todos: c.todos, id: run + '-a' })))
  return { ...c, commits, unmount: () => root.unmount() }
}

/** Svelte stores are the subscribe contract: render what they hand over into the DOM. */
function svelteStores(dbName, run) {
  const c = makeClient(dbName)
  const ul = mount('svelte')
  const status = mount('svelte-status')
  const calls = []
  const offList = svelte.liveQuery(query(c.todos).where('run', '==', run).orderBy('n')).subscribe((docs) => {
    calls.push(docs.length)
    ul.replaceChildren(...docs.map((d) => Object.assign(document.createElement('li'), { textContent: d.title })))
  })
  const handedAtOnce = calls.length === 1
  const offStatus = svelte.syncStatus(c.client).subscribe((s) => (status.textContent = s))
  return { ...c, calls, handedAtOnce, off: () => (offList(), offStatus()) }
}

/** A Vue app (render function, no template compiler) whose query depends on a ref. */
function vueApp(dbName, run) {
  const c = makeClient(dbName)
  const done = ref(false)
  const app = createApp({
    setup() {
      const list = vue.useLiveQuery(() => query(c.todos).where('run', '==', run).where('done', '==', done.value).orderBy('n'))
      const status = vue.useSyncStatus(c.client)
      return () => vh('div', null, [vh('p', { id: 'vue-status' }, status.value), vh('ul', { id: 'vue' }, list.value.map((d) => vh('li', { key: d.id }, d.title)))])
    },
  })
  app.mount(mount('vue-root'))
  return { ...c, done, unmount: () => app.unmount() }
}

globalThis.T = { makeClient, react, svelteStores, vueApp, followers, unwrapped, query }

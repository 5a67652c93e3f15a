// The demo on the package's public API, imported by name (the import map of index.html maps the
// names to the hub's /src and /vendor; a bundler would resolve them from node_modules).
import { SyncClient } from 'synchub-client'
import { query, indexes } from 'synchub-client/query'
import { room } from 'synchub-client/presence'
// Svelte stores are just the subscribe contract: they serve plain JS as well
import { pendingWrites, syncStatus } from 'synchub-client/svelte'

const $ = (id) => document.getElementById(id)
const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'

// Who this browser is: the hub's dev auth takes the token as the user's name. A real app's token
// function fetches (and refreshes) a JWT; it is called before every connect.
const me = localStorage.getItem('synchub-demo-user') || `guest-${Math.random().toString(36).slice(2, 6)}`
localStorage.setItem('synchub-demo-user', me)
$('me').textContent = me

const client = new SyncClient({
  url: `${proto}//${location.host}/sync`,
  dbName: 'synchub-demo',
  token: async () => me,
  indexes: indexes({ todos: ['created', ['done', 'created']] }),
})
const todos = client.collection('todos')
const metrics = client.collection('metrics')
globalThis.synchub = { client, todos, metrics }

function el(tag, props = {}, ...kids) {
  const node = Object.assign(document.createElement(tag), props)
  node.append(...kids)
  return node
}
const list = (ul, items, empty) => ul.replaceChildren(...(items.length ? items : [el('li', { className: 'empty', textContent: empty })]))

// ---- the todo list: a live query, filtered by the radio buttons, oldest first -------------------
// (documents without `created`, written by other programs, come last)
const FILTERS = {
  all: () => query(todos).orderBy('created'),
  open: () => query(todos).where('done', '==', false).orderBy('created'),
  done: () => query(todos).where('done', '==', true).orderBy('created'),
}
let stopList = () => {}
function showList(filter) {
  stopList()
  stopList = FILTERS[filter]().observe((docs, { pending, fromCache }) => {
    $('todos').dataset.filter = filter
    $('saving').hidden = !pending
    $('stale').hidden = !fromCache
    list($('todos'), docs.map(todoItem), filter === 'all' ? 'Nothing to do.' : `No ${filter} todos.`)
  })
}
function todoItem(t) {
  const box = el('input', { type: 'checkbox', checked: !!t.done, onchange: () => todos.update(t.id, (cur) => cur && { ...cur, done: box.checked }) })
  const li = el('li', { className: t.done ? 'done' : '' }, box, el('span', { textContent: String(t.title ?? t.id) }),
    el('button', { textContent: '×', title: 'delete', onclick: () => todos.delete(t.id) }))
  li.dataset.id = t.id
  return li
}
for (const radio of document.querySelectorAll('input[name=filter]')) radio.addEventListener('change', () => showList(radio.value))
showList(document.querySelector('input[name=filter]:checked').value)

$('add').addEventListener('submit', async (e) => {
  e.preventDefault()
  const title = $('title').value.trim()
  if (!title) return
  $('title').value = ''
  await todos.put({ id: crypto.randomUUID(), title, done: false, created: new Date().toISOString() })
})

// ---- conflicts: the hub kept another version than ours; the user picks one ---------------------
/** @type {Map<string, {local: object | null, server: object | null}>} by document id: the latest conflict */
const conflicts = new Map()
const brief = (d) => (d ? `“${d.title ?? d.id}”${d.done ? ' (done)' : ''}` : 'deleted')
function renderConflicts() {
  $('conflicts-box').hidden = conflicts.size === 0
  $('conflicts').replaceChildren(...[...conflicts].map(([id, c]) => {
    // the store holds theirs now (the hub's); writing the chosen version makes it the latest
    const choose = (doc) => {
      conflicts.delete(id)
      renderConflicts()
      todos.update(id, () => (doc ? { ...doc } : null))
    }
    const li = el('li', {}, el('span', { textContent: `mine ${brief(c.local)} · theirs ${brief(c.server)}` }),
      el('button', { className: 'keep', textContent: 'keep mine', onclick: () => choose(c.local) }),
      el('button', { className: 'take', textContent: 'take theirs', onclick: () => choose(c.server) }))
    li.dataset.id = id
    return li
  }))
}
client.addEventListener('conflict', (e) => {
  const { coll, id, local, server } = e.detail
  if (coll !== 'todos') return
  conflicts.set(id, { local, server })
  renderConflicts()
})

// ---- status, outbox, sync progress, last event ------------------------------------------------
syncStatus(client).subscribe((s) => ($('status').textContent = $('status').dataset.status = s))
pendingWrites(client).subscribe((w) => ($('pending').textContent = String(w.length)))
client.addEventListener('progress', (e) => {
  const { coll, done, total } = e.detail
  $('progress').textContent = `${coll}: ${done}${total != null ? ' / ' + total : ''}`
})
for (const type of ['conflict', 'resync', 'error']) {
  client.addEventListener(type, (e) => {
    const d = e.detail
    $('event').textContent = `${type}: ${d.coll ?? ''} ${d.id ?? ''} ${d.outcome ?? d.reason ?? d.kind ?? ''}`.trim()
  })
}

// ---- live metrics (written into Ignite by another application) ---------------------------------
query(metrics).observe((docs) =>
  list($('metrics'), docs.map((m) => el('li', {}, el('span', { textContent: m.id }), el('b', { textContent: `${m.value ?? '–'} ${m.unit ?? ''}` }))), 'waiting for data…'))

// ---- who is online: a presence room ------------------------------------------------------------
const lobby = room(client, 'demo')
const showOnline = () => {
  const users = [...new Set(lobby.members.map((m) => m.user ?? '?'))].sort()
  list($('online'), users.map((u) => el('li', { textContent: u === me ? `${u} (you)` : u })), 'nobody yet')
}
for (const type of ['join', 'leave', 'update']) lobby.addEventListener(type, showOnline)
// code 0: this hub serves no rooms
lobby.addEventListener('error', (e) => list($('online'), [], e.detail.code === 0 ? 'not served by this hub' : `error ${e.detail.code}`))
lobby.join({ name: me })
globalThis.synchub.lobby = lobby

// Offline reloads: the service worker keeps the app shell in a cache. It precaches the shell when
// it installs; the modules this page loaded before the worker controlled it are handed over too,
// so a reload works offline right after the first visit.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then((reg) => {
      const urls = performance.getEntriesByType('resource').map((e) => e.name).filter((u) => new URL(u).origin === location.origin)
      reg.active?.postMessage({ cache: urls })
    })
    .catch(() => {})
}

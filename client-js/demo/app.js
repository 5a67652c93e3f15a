import { SyncClient } from '/src/index.js'

const $ = (id) => document.getElementById(id)
const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
const client = new SyncClient({ url: `${proto}//${location.host}/sync`, dbName: 'synchub-demo', token: 'dev' })
const todos = client.collection('todos')
const metrics = client.collection('metrics')
globalThis.synchub = { client, todos, metrics }

function el(tag, props = {}, ...kids) {
  const node = Object.assign(document.createElement(tag), props)
  node.append(...kids)
  return node
}

async function renderTodos() {
  // newest first; documents without a creation time after them, by id
  const list = (await todos.getAll()).sort((a, b) => String(b.created ?? '').localeCompare(String(a.created ?? '')) || a.id.localeCompare(b.id))
  const ul = $('todos')
  ul.replaceChildren(
    ...(list.length
      ? list.map((t) => {
          const box = el('input', { type: 'checkbox', checked: !!t.done, onchange: () => todos.put({ ...t, done: box.checked }) })
          const li = el('li', { className: t.done ? 'done' : '' }, box, el('span', { textContent: String(t.title ?? t.id) }),
            el('button', { textContent: '×', title: 'delete', onclick: () => todos.delete(t.id) }))
          li.dataset.id = t.id
          return li
        })
      : [el('li', { className: 'empty', textContent: 'Nothing to do.' })])
  )
}

async function renderMetrics() {
  const list = await metrics.getAll()
  $('metrics').replaceChildren(
    ...(list.length
      ? list.map((m) => el('li', {}, el('span', { textContent: m.id }), el('b', { textContent: `${m.value ?? '–'} ${m.unit ?? ''}` })))
      : [el('li', { className: 'empty', textContent: 'waiting for data…' })])
  )
}

async function renderPending() {
  $('pending').textContent = String(await client.pendingCount())
}

let queued = false
function render() {
  if (queued) return
  queued = true
  requestAnimationFrame(async () => {
    queued = false
    await Promise.all([renderTodos(), renderMetrics(), renderPending()])
  })
}

todos.subscribe(render)
metrics.subscribe(render)
client.addEventListener('status', (e) => {
  $('status').textContent = $('status').dataset.status = e.detail.newStatus
  render()
})
client.addEventListener('progress', (e) => {
  const { coll, done, total } = e.detail
  $('progress').textContent = `${coll}: ${done}${total != null ? ' / ' + total : ''}`
})
for (const type of ['conflict', 'resync', 'error']) {
  client.addEventListener(type, (e) => {
    const d = e.detail
    $('event').textContent = `${type}: ${d.coll ?? ''} ${d.id ?? ''} ${d.outcome ?? d.reason ?? d.kind ?? ''}`.trim()
    render()
  })
}
$('add').addEventListener('submit', async (e) => {
  e.preventDefault()
  const title = $('title').value.trim()
  if (!title) return
  $('title').value = ''
  await todos.put({ id: crypto.randomUUID(), title, done: false, created: new Date().toISOString() })
})
render()

// Offline reloads: a tiny service worker keeps the app shell in a cache.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {})

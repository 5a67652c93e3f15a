// App-shell service worker of the demo. Install precaches the shell (the page, its script, the
// client modules it starts with, msgpack) so an offline reload works even right after the first
// visit; fetches go to the network first and fall back to the cache (a dev server changes often);
// activate removes the caches of older versions. The sync socket is never touched.
const CACHE = 'synchub-demo-v2'
const SHELL = ['/', '/app.js', '/src/index.js', '/src/query.js', '/src/presence.js', '/src/svelte.js', '/vendor/msgpack/index.mjs']

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(SHELL))
      .then(() => self.skipWaiting())
  )
})

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('synchub-demo-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  )
})

// the page's own list of what it loaded (same origin only; one that fails does not stop the others)
self.addEventListener('message', (e) => {
  const urls = Array.isArray(e.data?.cache) ? e.data.cache.filter((u) => typeof u === 'string' && new URL(u).origin === location.origin) : []
  e.waitUntil(caches.open(CACHE).then((c) => Promise.all(urls.map((u) => c.add(u).catch(() => {})))))
})

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (e.request.method !== 'GET' || url.origin !== location.origin || url.pathname === '/sync') return
  e.respondWith(
    fetch(e.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone()
          // the response is served now; storing its copy may finish later, but not be cut short
          e.waitUntil(caches.open(CACHE).then((c) => c.put(e.request, copy)))
        }
        return res
      })
      .catch(() => caches.match(e.request, { ignoreSearch: true }).then((r) => r || Response.error()))
  )
})

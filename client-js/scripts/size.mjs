// Prints the brotli size of each entry point of the package (src/ minified and bundled from that
// entry) without @msgpack/msgpack, and fails when one is over its budget. The core's size with
// @msgpack/msgpack is printed too (no budget: the app may share that dependency).
import { build } from 'esbuild'
import { brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'

// core: 8.5 KiB, then 9 KiB: per-user databases and resumable first syncs; document limits
// (put check, decoder widening, placeholders) and "retry later" results; then 10 kB (issue 11):
// typed events, write handles with the hub's verdict, one error shape, the `indexes` hook and
// the `acked` event. query (issue 11): local and live queries (planner, IndexedDB adapter, schema
// upgrade, live evaluation), measured alone (the few modules it shares with the core counted
// again); 3 kB was the first guess, the planner and its checked errors took 4.5; 5.5 for live
// queries patched in memory instead of read again (live-window.js, ≈ 0.65 kB).
const ENTRIES = [
  { name: 'synchub-client', file: '../src/index.js', budget: 10 * 1000 },
  // then 9 kB (issue 12): query subscriptions (`sync()`, `subset()`, `syncNamed()` and their store);
  // collection.js and store.js are counted again here: next to the core they add 2.0 kB
  { name: 'synchub-client/query', file: '../src/query.js', budget: 9 * 1000 },
  // rooms (issue 12): presence and broadcasts, on their own
  { name: 'synchub-client/presence', file: '../src/presence.js', budget: 2.5 * 1000 },
  // storage(client): persist() and the estimate, moved out of the core for its budget
  { name: 'synchub-client/storage', file: '../src/storage.js', budget: 0.5 * 1000 },
  // framework bindings (issue 11): what a binding adds to an app that already loads the core and
  // the query entry. The framework and every other module of the package stay out (`external`);
  // counted in each are the binding and external-store.js, which only the bindings import.
  ...['react', 'svelte', 'vue'].map((n) => ({
    name: 'synchub-client/' + n, file: `../src/${n}.js`, budget: 1.5 * 1000, external: n === 'svelte' ? [] : [n], own: ['external-store.js'],
  })),
]

/**
 * Imports of the package's own modules left out of a binding's bundle, but for those in `own`.
 * @param {string[]} own
 * @returns {import('esbuild').Plugin}
 */
const packageExternal = (own) => ({
  name: 'package-external',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => (a.kind === 'entry-point' || own.some((f) => a.path.endsWith('/' + f)) ? undefined : { path: a.path, external: true }))
  },
})

/** @param {string} file @param {boolean} withMsgpack @param {{external?: string[], own?: string[]}} [e] */
async function size(file, withMsgpack, e = {}) {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(file, import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    external: [...(withMsgpack ? [] : ['@msgpack/msgpack']), ...(e.external ?? [])],
    plugins: e.own ? [packageExternal(e.own)] : [],
    write: false,
  })
  const code = out.outputFiles[0].contents
  return { min: code.length, br: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length }
}

let over = false
for (const e of ENTRIES) {
  const s = await size(e.file, false, e)
  const without = e.own ? [...e.external, "the package's other modules"].join(' and ') + ' excluded' : '@msgpack/msgpack excluded'
  console.log(`${e.name} size: ${s.min} B minified, ${s.br} B brotli (budget ${e.budget} B, ${without})`)
  if (s.br > e.budget) {
    console.error(`${e.name}: size budget exceeded`)
    over = true
  }
}
const all = await size(ENTRIES[0].file, true)
console.log(`synchub-client with @msgpack/msgpack: ${all.min} B minified, ${all.br} B brotli (no budget)`)
if (over) process.exit(1)

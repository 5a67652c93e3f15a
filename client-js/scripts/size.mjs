// Prints the brotli size of the library (all of src/, minified together) without @msgpack/msgpack.
import { build } from 'esbuild'
import { brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'

// 8.5 KiB, then 9 KiB: per-user databases and resumable first syncs; document limits
// (put check, decoder widening, placeholders) and "retry later" results; then 10 kB (issue 11):
// typed events, write handles with the hub's verdict, one error shape (the core entry, without
// @msgpack/msgpack, must stay within it)
const BUDGET = 10 * 1000
const entry = fileURLToPath(new URL('../src/index.js', import.meta.url))
const out = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  external: ['@msgpack/msgpack'],
  write: false,
})
const code = out.outputFiles[0].contents
const br = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
console.log(`synchub-client size: ${code.length} B minified, ${br} B brotli (budget ${BUDGET} B, @msgpack/msgpack excluded)`)
if (br > BUDGET) {
  console.error('size budget exceeded')
  process.exit(1)
}

// The `synchub-client/presence` entry point (rooms), on its own: what an app adds by importing it.
const PRESENCE_BUDGET = 2500
const presence = await build({
  entryPoints: [fileURLToPath(new URL('../src/presence.js', import.meta.url))],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  write: false,
})
const pbr = brotliCompressSync(presence.outputFiles[0].contents, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
console.log(`synchub-client/presence size: ${pbr} B brotli (budget ${PRESENCE_BUDGET} B)`)
if (pbr > PRESENCE_BUDGET) {
  console.error('presence size budget exceeded')
  process.exit(1)
}

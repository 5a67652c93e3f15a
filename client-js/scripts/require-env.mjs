// Fails (exit 1) when one of the named environment variables is missing: hub-backed suites never skip.
const missing = process.argv.slice(2).filter((n) => !process.env[n])
if (missing.length) {
  console.error(`${missing.join(', ')} not set: these tests need a running hub (e.g. SYNCHUB_URL=http://127.0.0.1:8765)`)
  process.exit(1)
}

// `npm test`: unit and fake-hub tests, the quick profile of the frame fuzzer, the type checks (src/
// with --checkJs; the declarations emitted afresh, then the TypeScript app of test/types/ compiled
// against them), the size report, and, when SYNCHUB_URL names a running hub, the real-hub and
// browser suites (the browser suite also needs SYNCHUB_URL_B and SYNCHUB_B_GRACE_MS: a second hub
// for rooms across hubs; it fails without them).
import { spawnSync } from 'node:child_process'

const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1
const tsc = 'node_modules/typescript/bin/tsc'
let status = run(['--test', 'test/core/', 'test/node/', 'test/fuzz/'])
for (const p of ['tsconfig.json', 'tsconfig.types.json', 'test/types/tsconfig.json']) status = run([tsc, '-p', p]) || status
// the size report is printed whatever the tests said (and fails the run when over budget)
status = run(['scripts/size.mjs']) || status
if (process.env.SYNCHUB_URL) {
  status ||= run(['--test', '--test-concurrency=1', 'test/real-hub/'])
  status ||= run(['scripts/require-env.mjs', 'SYNCHUB_URL_B', 'SYNCHUB_B_GRACE_MS']) || run(['--test', '--test-concurrency=1', 'test/browser/'])
} else {
  console.log('SYNCHUB_URL not set: the real-hub and browser suites run from pytest (tests/integration/test_client_js.py starts Ignite + two hubs and sets them).')
}
process.exit(status)

// The client frame fuzzer, long profile (the quick one runs in frames.test.js).
//
//   node test/fuzz/run.mjs [--inputs N] [--seed S] [--from I]   N generated inputs (default 100000)
//   node test/fuzz/run.mjs --seed S --index I                    replay one generated input
//   node test/fuzz/run.mjs --replay test/fuzz/corpus/<file>.json  replay a stored input
//   ... --minimize [--want TEXT] [--out FILE]   with --index or --replay: drop steps and writes
//       while a failure of the kind of the first one (holding TEXT) stays
//   options: --no-save (do not write failing inputs to corpus/), --verbose, --timeout-ms 30000
//
// Inputs run in a worker thread, watched: an input that stops answering (a busy loop, a hang the
// harness cannot see) is reported with its seed and index like any failure. A failing input is
// printed with a one-line replay command and written to test/fuzz/corpus/.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { parseArgs } from 'node:util'
import v8 from 'node:v8'
import vm from 'node:vm'

const here = path.dirname(fileURLToPath(import.meta.url))
export const CORPUS = path.join(here, 'corpus')


async function main() {
  const { values: a } = parseArgs({
    options: {
      inputs: { type: 'string', default: '100000' },
      seed: { type: 'string' },
      from: { type: 'string', default: '0' },
      index: { type: 'string' },
      replay: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '30000' },
      minimize: { type: 'boolean', default: false },
      out: { type: 'string' },
      want: { type: 'string' },
    },
  })
  if (a.minimize) return minimizeCli(a)
  const seed = a.seed !== undefined ? Number(a.seed) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0
  const job = a.replay
    ? { replay: JSON.parse(readFileSync(a.replay, 'utf8')) }
    : a.index !== undefined
      ? { seed, from: Number(a.index), count: 1 }
      : { seed, from: Number(a.from), count: Number(a.inputs) }
  if (!a.replay) console.log(`client frame fuzzer: seed ${seed}, inputs ${job.from}..${job.from + job.count - 1}`)
  const started = Date.now()
  let done = 0
  let failed = 0
  let last = null
  let frames = 0
  let closes = 0
  let heap = null
  const timeout = Number(a['timeout-ms'])
  const report = (msg) => {
    failed++
    const input = msg.input
    const name = input.seed !== undefined ? `${input.seed}-${input.index}` : 'replay'
    console.log(`\nFAIL seed=${input.seed} index=${input.index}: ${msg.failures.length} problem(s)`)
    for (const f of msg.failures.slice(0, 12)) console.log('  - ' + f)
    console.log(a.replay ? `  replay: node test/fuzz/run.mjs --replay ${a.replay}` : `  replay: node test/fuzz/run.mjs --seed ${input.seed} --index ${input.index}`)
    if (!a['no-save'] && !a.replay) {
      mkdirSync(CORPUS, { recursive: true })
      const file = path.join(CORPUS, `fail-${name}.json`)
      writeFileSync(file, JSON.stringify({ ...input, failures: msg.failures.slice(0, 12) }, null, 1) + '\n')
      console.log(`  saved: ${path.relative(process.cwd(), file)}`)
    }
  }
  await new Promise((resolve) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { ...job, fuzz: true } })
    let timer
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        report({ input: last ?? job.replay ?? {}, failures: [`no answer for ${timeout} ms: hang`] })
        w.terminate()
      }, timeout)
    }
    arm()
    w.on('message', (msg) => {
      arm()
      if (msg.start) return void (last = msg.start)
      if (msg.heap) return void (heap = msg.heap)
      done++
      frames += msg.stats.frames
      closes += msg.stats.closes
      if (msg.failures.length) report(msg)
      else if (a.verbose) console.log(`ok ${msg.input.index}: ${JSON.stringify(msg.stats)}`)
      if (done % 1000 === 0) process.stdout.write(`\r${done} inputs, ${failed} failing, ${((Date.now() - started) / 1000).toFixed(0)} s`)
    })
    w.on('error', (e) => {
      report({ input: last ?? {}, failures: [`worker crashed: ${e?.stack || e}`] })
    })
    w.on('exit', () => {
      clearTimeout(timer)
      resolve(undefined)
    })
  })
  const secs = (Date.now() - started) / 1000
  console.log(`\n${done} inputs (${frames} frames, ${closes} refused) in ${secs.toFixed(1)} s, ${a.replay ? a.replay : `seed ${seed}`}: ${failed} failing`)
  if (heap) console.log(`heap after gc: ${(heap.first / 2 ** 20).toFixed(1)} MiB after the first 1000 inputs, ${(heap.last / 2 ** 20).toFixed(1)} MiB at the end`)
  process.exitCode = failed ? 1 : 0
}

async function worker() {
  const { runInput } = await import('./harness.mjs')
  const { generate } = await import('./frames.mjs')
  const job = workerData
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const heapNow = () => {
    gc()
    return process.memoryUsage().heapUsed
  }
  let first = 0
  const inputs = job.replay ? [job.replay] : null
  const count = inputs ? 1 : job.count
  for (let i = 0; i < count; i++) {
    const input = inputs ? inputs[0] : generate(job.seed, job.from + i)
    parentPort?.postMessage({ start: { seed: input.seed, index: input.index } })
    const { failures, stats } = await runInput(input)
    parentPort?.postMessage({ input: failures.length ? input : { seed: input.seed, index: input.index }, failures, stats })
    if (i === 999) first = heapNow()
  }
  if (count >= 1000) parentPort?.postMessage({ heap: { first, last: heapNow() } })
}

/** The kind of a failure, without step numbers and values. */
export const signature = (f) => f.replace(/^step \d+: /, '').replace(/-?\d+n?/g, 'N').replace(/"[^"]*"/g, 'S').slice(0, 80)

/**
 * Drop steps, burst parts and writes of `input` while `runInput` still reports a failure of the
 * kind of its first one.
 */
export async function minimize(input, runInput, log = () => {}, want = '') {
  const first = (await runInput(input)).failures.find((f) => f.includes(want))
  if (!first) return null
  const kind = signature(first)
  const fails = async (cand) => (await runInput(cand)).failures.some((f) => signature(f) === kind)
  let best = structuredClone(input)
  for (let changed = true; changed; ) {
    changed = false
    for (let i = best.steps.length - 1; i >= 0; i--) {
      const cand = { ...best, steps: best.steps.filter((_, j) => j !== i) }
      if (await fails(cand)) {
        best = cand
        changed = true
      } else if (best.steps[i].k === 'burst') {
        for (let k = best.steps[i].steps.length - 1; k >= 0 && best.steps[i].steps.length > 1; k--) {
          const steps = best.steps.map((st, j) => (j === i ? { ...st, steps: st.steps.filter((_, m) => m !== k) } : st))
          if (await fails({ ...best, steps })) {
            best = { ...best, steps }
            changed = true
          }
        }
      }
    }
    for (let i = best.writes.length - 1; i >= 0 && best.writes.length > 1; i--) {
      const cand = { ...best, writes: best.writes.filter((_, j) => j !== i) }
      if (await fails(cand)) {
        best = cand
        changed = true
      }
    }
    log(`${best.steps.length} steps, ${best.writes.length} writes`)
  }
  return { input: best, failure: first }
}

async function minimizeCli(a) {
  const { runInput } = await import('./harness.mjs')
  const { generate } = await import('./frames.mjs')
  const input = a.replay ? JSON.parse(readFileSync(a.replay, 'utf8')) : generate(Number(a.seed) >>> 0, Number(a.index))
  delete input.failures
  const m = await minimize(input, runInput, (msg) => console.log(msg), a.want)
  if (!m) return console.log('the input does not fail')
  const { failures } = await runInput(m.input)
  const text = JSON.stringify({ ...m.input, failures }, null, 1) + '\n'
  if (a.out) writeFileSync(a.out, text)
  console.log(text)
}

// (not under `node --test`, which may take any .mjs below test/ for a test file)
if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url) && !process.env.NODE_TEST_CONTEXT) await main()
else if (!isMainThread && workerData?.fuzz) await worker()

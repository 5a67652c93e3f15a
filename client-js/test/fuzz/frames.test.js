// The client frame fuzzer, quick profile (the unit suite runs it): a fixed seed's first inputs and
// every stored input of corpus/. The long profile is `npm run fuzz` (test/fuzz/run.mjs).
// FUZZ_SEED and FUZZ_INPUTS change the generated inputs (default: seed 1, 1000 inputs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { generate } from './frames.mjs'
import { runInput } from './harness.mjs'

const SEED = Number(process.env.FUZZ_SEED ?? 1) >>> 0
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 1000)
const corpus = fileURLToPath(new URL('./corpus/', import.meta.url))

// (a busy loop in the client would stall the input: the timeout ends the run)
test(`quick profile: ${INPUTS} generated inputs of seed ${SEED}`, { timeout: 600_000 }, async () => {
  const failing = []
  for (let i = 0; i < INPUTS; i++) {
    const { failures } = await runInput(generate(SEED, i))
    if (failures.length) failing.push(`index ${i}: ${failures.slice(0, 4).join('; ')}\n  replay: node test/fuzz/run.mjs --seed ${SEED} --index ${i}`)
  }
  assert.deepEqual(failing, [])
})

for (const file of readdirSync(corpus).filter((f) => f.endsWith('.json')).sort()) {
  test(`corpus: ${file}`, async () => {
    const input = JSON.parse(readFileSync(corpus + file, 'utf8'))
    const { failures } = await runInput(input)
    assert.deepEqual(failures, [], `${input.note ?? ''}\n  replay: node test/fuzz/run.mjs --replay test/fuzz/corpus/${file}`)
  })
}

// Launching Debian's Chromium with the flags every browser test and bench uses (without the
// SYNCHUB_URL requirement of helpers.js, for benches that serve themselves).
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run']

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS })
}

/**
 * A browser whose profile lives on disk in `dir` (one context). Chromium keeps the storage of
 * `launch()`'s contexts in memory, where its quota accounting differs from a real profile's
 * (test/browser/quota.test.js).
 */
export function launchPersistent(dir) {
  return chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS })
}

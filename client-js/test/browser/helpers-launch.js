// Launching Debian's Chromium with the flags every browser test and bench uses (without the
// SYNCHUB_URL requirement of helpers.js, for benches that serve themselves).
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
}

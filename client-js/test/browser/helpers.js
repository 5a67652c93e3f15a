// Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core against a hub serving the demo.
import assert from 'node:assert/strict'
export { CHROMIUM, launch } from './helpers-launch.js'

export const BASE = process.env.SYNCHUB_URL?.replace(/\/+$/, '')
assert.ok(BASE, 'SYNCHUB_URL must be the http base URL of a hub serving the demo')

/** Open the demo and wait until its client is live. */
export async function openDemo(context) {
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('pageerror:', e.message))
  await page.goto(BASE + '/')
  await page.waitForFunction(() => globalThis.synchub?.client.status === 'live', null, { timeout: 20000 })
  return page
}

/** Add a todo through the UI. */
export async function addTodo(page, title) {
  await page.fill('#title', title)
  await page.click('#add button')
}

/** Titles currently rendered in the todo list. */
export function titles(page) {
  return page.$$eval('#todos li[data-id] span', (els) => els.map((e) => e.textContent))
}

/** Titles in the local store of the page. */
export function storedTitles(page) {
  return page.evaluate(async () => (await globalThis.synchub.todos.getAll()).map((t) => String(t.title)))
}

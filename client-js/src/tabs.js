/**
 * Tab coordination: one tab per database holds the connection (Web Locks), every tab hears
 * every change (BroadcastChannel). Both are injected; without locks every tab connects on its
 * own (the hub's dedup keeps replays exactly-once), without BroadcastChannel there is no fan-out.
 */

/**
 * @typedef {{request: (name: string, options: {signal?: AbortSignal}, cb: () => Promise<void>) => Promise<unknown>}} LockManagerLike
 */

export class Tabs {
  /**
   * @param {string} name lock and channel name
   * @param {LockManagerLike | null} locks
   * @param {(typeof BroadcastChannel) | null} BC
   * @param {(msg: any) => void} onMessage
   */
  constructor(name, locks, BC, onMessage) {
    this.locks = locks
    this.name = name
    this.abort = new AbortController()
    /** @type {(() => void) | undefined} */
    this.release = undefined
    this.channel = BC ? new BC(name) : null
    if (this.channel) this.channel.onmessage = (ev) => onMessage(ev.data)
  }

  /**
   * Call `onLead` once this tab holds the connection lock (at once without locks).
   * @param {() => void} onLead
   */
  lead(onLead) {
    if (!this.locks) return onLead()
    this.locks
      .request(this.name, { signal: this.abort.signal }, () => {
        if (this.abort.signal.aborted) return Promise.resolve()
        onLead()
        return new Promise((resolve) => (this.release = resolve))
      })
      .catch(() => {})
  }

  /** @param {object} msg */
  post(msg) {
    try {
      this.channel?.postMessage(msg)
    } catch {}
  }

  close() {
    this.abort.abort()
    this.release?.()
    this.channel?.close()
  }
}

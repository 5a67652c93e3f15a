/**
 * The public vocabulary of `synchub-client`: every type an app names, in one place (re-exported by
 * `index.js`, so `import type { Doc, Change, SyncError } from 'synchub-client'` works). Types only:
 * nothing here exists at run time.
 */
export {}

/** @typedef {{[field: string]: unknown}} Doc a document: a msgpack-encodable map; stored documents carry their `id` */
/** @typedef {import('./core/state.js').Status} Status `offline` → `connecting` → `syncing` → `live`; `unauthorized`: stopped until `reconnect()`; `paused`: the disk is full, waiting for `reconnect()` or a long timer */
/**
 * @typedef {object} StorageInfo what `storage()` reports (from `navigator.storage`)
 * @property {boolean} persisted the browser keeps this origin's data under storage pressure
 * @property {number | null} usage bytes used by the origin, when reported
 * @property {number | null} quota bytes the origin may use, when reported
 */
/**
 * @template {object} T
 * @typedef {T & {id: string}} WithId a stored document: `T` with its `id`
 */
/**
 * @template {object} [T=Doc]
 * @typedef {object} Change what `subscribe` callbacks receive
 * @property {'put' | 'delete'} type
 * @property {string} id
 * @property {WithId<T> | null} doc null for `delete`
 * @property {'local' | 'remote'} origin `local`: written by this client object; `remote`: by the hub, another tab or a conflict resolution
 * @property {true} [oversize] `doc` is the hub's placeholder `{id, $oversize: {reason, limit, size}}` for a stored document beyond the limits (not a `T`)
 */
/**
 * @typedef {'applied' | 'conflict' | 'rejected' | 'merged' | 'error'} WriteStatus the hub's verdict on one write:
 *   `applied` as sent (also a replay the hub had applied before); `conflict` last-writer-wins kept the
 *   hub's document; `rejected` reject-if-stale refused it; `merged` the merge hook stored `serverDoc`;
 *   `error` not applied (`code`, `message`)
 */
/**
 * @template {object} [T=Doc]
 * @typedef {object} WriteResult the hub's verdict on one write (`WriteHandle.result`)
 * @property {number} seq the write's outbox sequence number
 * @property {string} coll
 * @property {string} id
 * @property {WriteStatus} status
 * @property {bigint} ver the document's version after the write (0n for `error`)
 * @property {number} [code] for `error`: the hub's code (4403 not writable, 4404 unknown collection, 4413 over the document limits, 4001 invalid)
 * @property {string} [message] for `error`: the hub's reason
 * @property {WithId<T> | null} [serverDoc] the hub's document when it differs from the one written
 *   (`conflict`, `rejected`, `merged`; `applied` for a replay whose document changed since; null = deleted)
 */
/**
 * @template {object} [T=Doc]
 * @typedef {object} WriteHandle what `put` and `delete` resolve to, once the write is stored locally
 *   (document and outbox entry in one IndexedDB transaction)
 * @property {number} seq outbox sequence number (as in `pendingWrites()` and in `conflict`/`error` events)
 * @property {string} coll
 * @property {string} id
 * @property {Promise<WriteResult<T>>} result settles with the hub's verdict. Rejects only when this
 *   client object stops first (`close()`, a fatal error): the write stays in the outbox and is
 *   replayed by the next client, whose `conflict`/`error` events carry its `seq`
 */
/**
 * @template {object} [T=Doc]
 * @typedef {object} PendingWrite an outbox entry not acknowledged yet
 * @property {number} seq
 * @property {string} coll
 * @property {string} id
 * @property {'put' | 'del'} op
 * @property {WithId<T> | null} doc
 * @property {bigint} ts the write's clock (HLC)
 */
/** @typedef {'protocol' | 'closed' | 'quota' | 'store' | 'versionchange' | 'open' | 'mutation' | 'sub' | 'unsub' | 'auth' | 'token' | 'unauthorized' | 'hub' | 'subscriber' | 'user-mismatch'} ErrorKind */
/**
 * @template {object} [T=Doc]
 * @typedef {object} SyncError the `detail` of every `error` event
 * @property {ErrorKind} kind what failed (docs/client.md, "Errors")
 * @property {number} code the hub's code (close code, `error` frame or result code); 0 when there is none
 * @property {string} message
 * @property {boolean} retry the client tries again by itself (reconnect, backoff, next connection)
 * @property {boolean} fatal the client stopped; `reconnect()` (after `closed`, `unauthorized`, `user-mismatch`) or a reload is needed; `flush()` rejects meanwhile
 * @property {string} [coll] `mutation`, `sub`, `unsub`
 * @property {string} [id] `mutation`
 * @property {number} [seq] `mutation`: the write's outbox sequence number
 * @property {WithId<T> | null} [local] `mutation`: the document written (null: a delete)
 * @property {WithId<T> | null} [server] `mutation` (final): the document the view fell back to
 * @property {string | null} [user] `user-mismatch`: the subject the hub authenticated
 * @property {unknown} [cause] the exception behind it (`quota`, `store`, `open`, `token`, `unauthorized`, `protocol`, `subscriber`); not sent to other tabs
 */
/**
 * @template {object} [T=Doc]
 * @typedef {object} Conflict the `detail` of a `conflict` event: the hub kept or made another document than the one written
 * @property {number} seq the write's outbox sequence number
 * @property {string} coll
 * @property {string} id
 * @property {'conflict' | 'rejected' | 'merged' | 'dup'} outcome `dup`: a replay whose document changed since it was applied
 * @property {WithId<T> | null} local the document written (null: a delete)
 * @property {WithId<T> | null} server the hub's document, now the local view (unless later local writes are pending)
 * @property {bigint} ver
 */
/**
 * @typedef {object} SyncEventMap event types of `SyncClient` and the `detail` of each
 * @property {{oldStatus: Status, newStatus: Status}} status
 * @property {{coll: string, done: number, total: number | null}} progress `total`: null while the hub cannot tell
 * @property {{coll: string, reason: string, mode: string}} resync `reason`: `epoch`, `retention`, `cq_lost`, `slow`, `auth`; `mode`: `snapshot` or `catchup`
 * @property {Conflict} conflict
 * @property {SyncError} error
 * @property {WriteResult[]} acked the hub answered these writes (of any tab of this database): their
 *   verdicts, as `WriteHandle.result` gets them; documents whose view did not change fire no `subscribe` callback
 * @property {StoredChange[]} change documents changed in the local store, of every collection: local
 *   writes (of any tab of this database), the hub's changes, acknowledgements that changed a view;
 *   fired before the `subscribe` callbacks of the collections
 */
/**
 * @typedef {object} StoredChange one document changed in the local store (`change` event)
 * @property {'put' | 'delete'} type
 * @property {string} coll
 * @property {string} id
 * @property {Doc | null} doc null for `delete`
 */
/**
 * @template {keyof SyncEventMap} K
 * @typedef {CustomEvent<SyncEventMap[K]>} SyncEvent
 */
/**
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => ReturnType<typeof setTimeout>} setTimeout
 * @property {(id: ReturnType<typeof setTimeout> | undefined) => void} clearTimeout
 */
/**
 * @typedef {object} Env the platform the client runs on; each defaults to the browser's own (tests and Node inject theirs)
 * @property {typeof WebSocket} [WebSocket] default: `globalThis.WebSocket` (Node: the `ws` package)
 * @property {IDBFactory} [indexedDB] default: `globalThis.indexedDB` (Node: `fake-indexeddb`)
 * @property {import('./tabs.js').LockManagerLike | null} [locks] Web Locks; default `navigator.locks`; `null` = every tab connects
 * @property {{persist?: () => Promise<boolean>, estimate?: () => Promise<{usage?: number, quota?: number}>} | null} [storage] for `storage()`; default `navigator.storage`
 * @property {(typeof BroadcastChannel) | null} [BroadcastChannel] default: the global; `null` = no cross-tab fan-out
 * @property {EventTarget | null} [events] source of `online`/`offline`; default the global scope
 * @property {{visibilityState: string, addEventListener: EventTarget['addEventListener'], removeEventListener: EventTarget['removeEventListener']} | null} [document] source of `visibilitychange`
 * @property {() => number} [now] wall clock in ms
 * @property {() => number} [random] uniform in [0, 1)
 * @property {Timers} [timers]
 */
/**
 * @typedef {object} SyncClientOptions
 * @property {string} url WebSocket URL of the hub's `/sync` endpoint
 * @property {string} [dbName] IndexedDB database name (default `synchub`)
 * @property {string | null} [user] who is signed in (the subject of the hub's tokens). Each user
 *   gets a database of its own, `<dbName>:<user>` (documents, cursors, outbox, tab lock), and the
 *   client stops (error `user-mismatch`) rather than sync it when the hub authenticates someone
 *   else. Without it every user of the browser shares one database and one outbox.
 * @property {string | null | (() => Promise<string | null>)} [token] sent in `hello`; a function is called on every connect and, before the token expires, for an in-band refresh (`auth`); when it throws, rejects or returns nothing the client retries with backoff (it never connects without a token), and when it throws `UnauthorizedError` sync stops (`unauthorized`) until `reconnect()`
 * @property {string | null} [app] sent in `hello`
 * @property {number} [backoffMin] ms (default 500)
 * @property {number} [backoffMax] ms (default 20000)
 * @property {number} [connectTimeout] ms until `welcome` (default 15000)
 * @property {number} [maxInFlight] mutation batches awaiting an ack (default 4)
 * @property {import('./core/limits.js').DocLimits} [docLimits] what `put` accepts (docs/protocol.md "Document limits"); the hub's, once connected
 * @property {import('./transport-ws.js').Limits} [limits] msgpack decoder limits for hub frames
 * @property {import('./store.js').Schema | null} [indexes] query indexes, declared with `indexes()` of
 *   `synchub-client/query` (docs/client.md, "Queries")
 * @property {Env} [env] the platform (WebSocket, IndexedDB, locks, clock, timers…)
 */

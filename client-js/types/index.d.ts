export { SyncClient, Collection } from './client.js';
export { backoff } from './core/backoff.js';
export { hlcNext, hlcObserve } from './core/hlc.js';
export { ProtocolViolation } from './core/messages.js';

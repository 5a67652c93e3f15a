export { SyncClient } from './client.js';
export { Collection } from './collection.js';
export { backoff } from './core/backoff.js';
export { hlcNext, hlcObserve } from './core/hlc.js';
export { ProtocolViolation } from './core/messages.js';
export { UnauthorizedError } from './core/errors.js';
export * from './types.js';

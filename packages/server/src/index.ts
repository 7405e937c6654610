export { createParley } from './app.js';
export type { Parley } from './app.js';
export type { ServerConfig } from './config.js';
export { DEFAULT_CONFIG } from './config.js';
export type { Store } from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export type { Bus, BusEvent } from './bus/bus.js';
export { MemoryBus } from './bus/memory/memory-bus.js';

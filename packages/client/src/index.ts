/** Parley TypeScript SDK: `ParleyClient` (real-time) and `ParleyHttp` (HTTP API). */
export {
  ParleyClient,
  defaultWsUrl,
  DEFAULT_CONNECT_TIMEOUT_MS,
  HEARTBEAT_TIMEOUT_FACTOR,
} from './client.js';
export type {
  ClientErrorEvent,
  ClientEvents,
  CloseOptions,
  ConnectionState,
  ParleyClientOptions,
  SendOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './client.js';
export { ParleyHttp, toParleyError } from './http.js';
export type {
  DirectTarget,
  FetchLike,
  HistoryQuery,
  ParleyHttpOptions,
  SearchQuery,
  SyncQuery,
} from './http.js';
export { DEFAULT_UPLOAD_CHUNK_SIZE } from './attachments.js';
export type { FileOptions, UploadOptions } from './attachments.js';
export { backoffDelay, DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export type { OutboxStorage, PendingSend } from './outbox.js';
export { applyEvent, foldInto } from './fold.js';
export type { Handler } from './emitter.js';

export { ParleyError, ERRORS, isErrorCode } from '@parley/protocol';
export type * from '@parley/protocol';

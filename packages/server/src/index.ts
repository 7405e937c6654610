export { createParley } from './app.js';
export type { Parley } from './app.js';
export type { ServerConfig } from './config.js';
export { DEFAULT_CONFIG } from './config.js';
export type { Positions } from './store/common/feed-cursor.js';
export { advance, formatCursor, highestPosition, parseCursor } from './store/common/feed-cursor.js';
export type {
  AccountStore,
  ConversationStore,
  MessageStore,
  NewMessage,
  PushQueueStore,
  SearchHit,
  SearchPage,
  SearchPageRequest,
  SearchQuery,
  SearchStore,
  ServerValueStore,
  SocialStore,
  Store,
} from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { InlineGuard, openThreadedSqliteStore } from './store/sqlite/threaded-sqlite-store.js';
export type { ThreadedSqliteOptions } from './store/sqlite/threaded-sqlite-store.js';
export type { Bus, BusEvent } from './bus/bus.js';
export { MemoryBus } from './bus/memory/memory-bus.js';
export { PostgresStore } from './store/postgres/postgres-store.js';
export type { PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { POSTGRES_MIGRATIONS } from './store/postgres/migrations.js';
export { shardOfKey } from './store/common/shard-hash.js';
export { RedisBus } from './bus/redis/redis-bus.js';
export type { RedisBusOptions } from './bus/redis/redis-bus.js';
export type { BusCapabilities } from './bus/bus.js';
export type { PresenceTracker } from './presence/presence.js';
export { MemoryPresence } from './presence/memory/memory-presence.js';
export { LocalDevices, decodeDeviceUse, encodeDeviceUse, inActiveUse } from './presence/device-activity.js';
export type { DeviceUse } from './presence/device-activity.js';
export { createMetrics } from './metrics.js';
export type { Metrics } from './metrics.js';
export { PushService } from './push/push-service.js';
export type { PushServiceOptions } from './push/push-service.js';
export { shouldPush } from './push/push-policy.js';
export type { PushCandidate } from './push/push-policy.js';
export type { PushMessage, PushProvider, PushResult } from './push/provider.js';
export { parseRetryAfter, resultForStatus } from './push/provider.js';
export {
  buildPayload,
  collapseKey,
  notificationText,
  preview,
  previewText,
  toPushMessage,
} from './push/payload.js';
export { WebPushProvider, checkWebPushSubscription, loadVapidKeys } from './push/webpush/webpush-provider.js';
export type { VapidKeys } from './push/webpush/webpush-provider.js';
export { FcmProvider, loadServiceAccount } from './push/fcm/fcm-provider.js';
export type { FcmProviderOptions, ServiceAccount } from './push/fcm/fcm-provider.js';
export { ApnsProvider } from './push/apns/apns-provider.js';
export type { ApnsProviderOptions } from './push/apns/apns-provider.js';
export type { PushJobRow, PushSubscriptionRow, PushTargetRow, NewPushJob } from './store/store.js';
export { RedisPresence } from './presence/redis/redis-presence.js';

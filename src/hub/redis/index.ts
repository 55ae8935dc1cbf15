/**
 * rxon/hub/redis: the hub's store on Redis 7 or Valkey, for durable state and several hubs
 * serving one fleet. Needs the optional peer dependency `ioredis`.
 */
export { RedisStore, STORE_LAYOUT, StoreLayoutError, type RedisStoreOptions } from "./redis-store.js";

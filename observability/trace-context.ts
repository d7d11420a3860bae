import { AsyncLocalStorage } from 'node:async_hooks';

// The trace id of the work in progress (an activity execution), so every logger call made
// inside it can carry the id without each activity threading it through (logger.ts mixin).
const storage = new AsyncLocalStorage<{ traceId: string }>();

export function runWithTraceId<T>(traceId: string, fn: () => T): T {
  return storage.run({ traceId }, fn);
}

export function currentTraceId(): string | undefined {
  return storage.getStore()?.traceId;
}

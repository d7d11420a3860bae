import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors';

const WINDOW_MS = 60_000;

/**
 * Per API key request limit over the routes registered after it in `scope` (the /v1 routes).
 * It runs as a route onRequest hook, after the scope's auth hook, so it counts by the key
 * the request was authenticated with (never by IP: many tenants share a NAT, one tenant
 * uses many hosts). A fixed one-minute window, counted in this process's memory.
 */
export async function registerKeyRateLimit(scope: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute === 0) return;
  await scope.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: WINDOW_MS,
    // Keys kept in the window's LRU; an evicted key would start a fresh window.
    cache: 100_000,
    keyGenerator: (req) => `key:${req.apiKeyId}`,
    errorResponseBuilder: (_req, ctx) => {
      const retryAfter = Math.max(1, Math.ceil(ctx.ttl / 1000));
      return new ApiError(429, 'rate_limited', `more than ${ctx.max} requests a minute with this API key; retry in ${retryAfter} s`, undefined, {
        limit: 'requests_per_minute',
        max: ctx.max,
        retry_after_seconds: retryAfter,
      });
    },
  });
}

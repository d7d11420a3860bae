import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CredentialsUnreadableError } from '../db/credentials-crypto';
import { QuotaExceededError, secondsToNextUtcDay } from '../db/quotas';

/** An error the client can act on: its status, a stable code, and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** More of the body, e.g. which limit and its size. */
    readonly details?: Record<string, unknown>,
    /** Sent as Retry-After: when the same request may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const badRequest = (field: string, reason: string) => new ApiError(400, 'validation_failed', reason, field);

/** The daily message quota is 429 until the next UTC day; a size or count quota is 403 (the same request never fits). */
export function quotaExceeded(err: QuotaExceededError, now = new Date()): ApiError {
  const daily = err.limit === 'messages_per_day';
  const retryAfter = daily ? secondsToNextUtcDay(now) : undefined;
  return new ApiError(
    daily ? 429 : 403,
    'quota_exceeded',
    `the account's ${err.limit} quota is ${err.max}${err.used === undefined ? '' : ` (${err.used} used)`}; this request needs ${err.requested}${daily ? ': it resets at 00:00 UTC' : ''}`,
    undefined,
    {
      limit: err.limit,
      max: err.max,
      requested: err.requested,
      ...(err.used === undefined ? {} : { used: err.used }),
      ...(retryAfter ? { retry_after_seconds: retryAfter } : {}),
    },
    retryAfter,
  );
}

/** One handler: client errors say what and where; server errors say nothing of their internals. */
export function errorHandler(thrown: FastifyError | ApiError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const err = thrown instanceof QuotaExceededError ? quotaExceeded(thrown) : thrown;
  if (err instanceof ApiError) {
    if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
    void reply.status(err.statusCode).send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...err.details });
    return;
  }
  if (err instanceof CredentialsUnreadableError) {
    // The channel's stored credentials are unusable here (copied from another channel, or a key not
    // configured): the caller can set them again; the message names the channel, never a secret.
    req.log.error({ event: 'credentials_unreadable', channel_id: err.channelId, err: err.message });
    void reply.status(409).send({ error: 'channel_credentials_unreadable', message: `${err.message}; the channel's credentials must be stored again` });
    return;
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const v = fe.validation[0];
    const missing = (v?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const extra = (v?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    const path = (v?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const field = missing ?? (extra ? [path, extra].filter(Boolean).join('.') : path) ?? '';
    const reason = missing ? 'is required' : extra ? 'is not an allowed property' : (v?.message ?? 'is invalid');
    void reply.status(400).send({
      error: 'validation_failed',
      message: `${field || fe.validationContext || 'body'} ${reason}`,
      field: field || fe.validationContext || 'body',
    });
    return;
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    void reply.status(413).send({ error: 'body_too_large', message: 'the request body is larger than this route accepts', field: 'body' });
    return;
  }
  const status = fe.statusCode ?? 500;
  if (status < 500) {
    void reply.status(status).send({ error: fe.code ?? 'bad_request', message: fe.message });
    return;
  }
  if (isDatabaseUnavailable(err)) {
    // A PostgreSQL restart or failover (or a dropped connection): the request may well succeed in a moment.
    req.log.warn({ event: 'service_unavailable', err: err.message, code: (err as { code?: unknown }).code });
    void reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: 'unavailable', message: 'temporarily unavailable; retry shortly' });
    return;
  }
  req.log.error({ event: 'request_failed', err }, 'unhandled error');
  void reply.status(500).send({ error: 'internal', message: 'internal error' });
}

const RETRY_AFTER_SECONDS = 2;

// Socket errors of a connection to PostgreSQL that is refused, dropped or cannot be resolved.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATEs of a server that is shutting down, starting up or out of connections; class 08 is every connection exception.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
// What node-postgres says when the pool cannot hand out a connection or the server went away mid-query.
const PG_MESSAGES = [/timeout exceeded when trying to connect/i, /^Connection terminated/i, /connection error and is not queryable/i];

/** True when the error (or one it wraps: drizzle's query error, a dual-stack AggregateError) says PostgreSQL is unreachable. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 5) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (PG_MESSAGES.some((m) => m.test(err.message))) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(err.cause, depth + 1);
}

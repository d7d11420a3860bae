import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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
    { limit: err.limit, max: err.max, requested: err.requested, ...(err.used === undefined ? {} : { used: err.used }), ...(retryAfter ? { retry_after_seconds: retryAfter } : {}) },
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
  const status = fe.statusCode ?? 500;
  if (status < 500) {
    void reply.status(status).send({ error: fe.code ?? 'bad_request', message: fe.message });
    return;
  }
  req.log.error({ event: 'request_failed', err }, 'unhandled error');
  void reply.status(500).send({ error: 'internal', message: 'internal error' });
}

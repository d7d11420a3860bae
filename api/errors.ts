import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** An error the client can act on: its status, a stable code, and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const badRequest = (field: string, reason: string) => new ApiError(400, 'validation_failed', reason, field);

/** One handler: client errors say what and where; server errors say nothing of their internals. */
export function errorHandler(err: FastifyError | ApiError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApiError) {
    void reply.status(err.statusCode).send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) });
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
  req.log.error({ event: 'request_failed', err }, 'unhandled error');
  void reply.status(500).send({ error: 'internal', message: 'internal error' });
}

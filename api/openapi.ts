import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document, generated from the same route schemas that validate
 * requests, served at GET /docs (JSON). Registered before the routes so every
 * route that follows is collected.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Turumba Dispatch API',
        version: '1',
        description:
          'Multi-channel message dispatch. Every /v1 route needs `Authorization: Bearer <api key>`. ' +
          'Past its per-key request rate a key is answered 429 `rate_limited` with `Retry-After`; past an account quota the answer is ' +
          '`quota_exceeded` naming the `limit`: 429 with `Retry-After` until 00:00 UTC for `messages_per_day`, 403 for `recipients_per_group` and `channels_per_account`.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  app.get('/docs', { schema: { hide: true } }, async () => app.swagger());
}

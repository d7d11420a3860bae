import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';

/** One line per operation, shown beside it in the reference. */
const SUMMARIES: Record<string, string> = {
  'POST /v1/channels': 'Create a channel (provider account and its credentials)',
  'GET /v1/channels': "List the account's channels",
  'GET /v1/channels/{id}': 'Get a channel',
  'PATCH /v1/channels/{id}': 'Change a channel: name, limits, enabled, credentials',
  'POST /v1/channels/{id}/verify': "Check a channel's credentials with its provider",
  'POST /v1/channels/{id}/rotate-webhook-secret': 'Issue a new webhook secret; the previous one passes for an overlap',
  'GET /v1/api-keys': "List the account's API keys (prefixes only)",
  'POST /v1/api-keys': 'Issue an API key (shown once)',
  'DELETE /v1/api-keys/{id}': 'Revoke an API key',
  'POST /v1/messages': 'Send one message',
  'GET /v1/messages': 'List messages (filters, keyset pages)',
  'GET /v1/messages/{id}': 'Get a message and its delivery status',
  'GET /v1/messages/{id}/events': "A message's status history",
  'POST /v1/messages/{id}/replay': 'Send a failed or undelivered message again',
  'POST /v1/replays': 'Replay the failed messages a filter selects',
  'GET /v1/replays/{id}': "A bulk replay's progress",
  'POST /v1/group-messages': 'Send one content to many recipients (or store a draft)',
  'GET /v1/group-messages/{id}': "A group's counts, rate and ETA",
  'POST /v1/group-messages/{id}/recipients': 'Add recipients to a draft group (JSON or CSV)',
  'POST /v1/group-messages/{id}/start': 'Start a draft group',
  'POST /v1/group-messages/{id}/pause': 'Pause a running group',
  'POST /v1/group-messages/{id}/resume': 'Resume a paused group',
  'POST /v1/group-messages/{id}/cancel': 'Cancel a group: what is not sent yet is not sent',
  'POST /webhooks/{channel_type}/{channel_id}': "A provider's callback: status receipts and inbound messages (signed)",
  'GET /webhooks/{channel_type}/{channel_id}': "A provider's callback by GET (Meta's subscription handshake, Jasmin's GET DLRs)",
  'GET /health': 'Liveness',
  'GET /ready': 'Readiness: PostgreSQL and Temporal reachable',
};

const PUBLIC = new Set(['/health', '/ready']);

/**
 * The OpenAPI document, generated from the same route schemas that validate requests,
 * served at GET /docs/json (and /docs/yaml), and the interactive reference (Swagger UI,
 * its assets from node_modules) at GET /docs. Registered before the routes so every
 * route that follows is collected. Request bodies carry their `x-examples`
 * (api/openapi-examples.ts), which become the operation's named examples.
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
    // Summaries and tags are added to a copy: the route's own schema is the one that validates.
    transform: ({ schema, url, route }) => {
      // Fastify answers `/v1/messages` and `/v1/messages/` alike: the reference shows the first.
      const path = url.length > 1 ? url.replace(/\/$/, '') : url;
      const method = Array.isArray(route.method) ? route.method[0] : route.method;
      const summary = SUMMARIES[`${method ?? ''} ${path.replace(/:(\w+)/g, '{$1}')}`];
      const isPublic = PUBLIC.has(path) || path.startsWith('/webhooks/');
      const documented: FastifySchema = { ...schema };
      if (summary && documented.summary === undefined) documented.summary = summary;
      documented.tags ??= [PUBLIC.has(path) ? 'health' : (path.split('/')[path.startsWith('/v1/') ? 2 : 1] ?? '')];
      // Probes and provider callbacks take no API key (callbacks are signed).
      if (isPublic) documented.security = [];
      return { schema: documented, url: path };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    theme: { title: 'Turumba Dispatch API' },
    // Nothing leaves the API's own origin: no validator badge, no remote spec.
    uiConfig: { validatorUrl: null, displayRequestDuration: true },
  });
}

import type { Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AdapterRegistry } from '../adapters/registry';
import type { Config } from '../config';
import type { Database } from '../db/client';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { withTraceHeaders } from '../observability/trace-client';
import { guardBody } from './body-guard';
import { errorHandler } from './errors';
import { registerKeyRateLimit } from './key-rate-limit';
import { registerOpenApi } from './openapi';
import { authPlugin } from './routes/auth';
import { channelRoutes } from './routes/channels';
import { groupRoutes } from './routes/groups';
import { apiKeyRoutes } from './routes/api-keys';
import { healthRoutes } from './routes/health';
import { messageRoutes } from './routes/messages';
import { replayRoutes } from './routes/replays';
import { webhookRoutes } from './routes/webhooks';

export interface AppDeps {
  config: Pick<
    Config,
    | 'publicBaseUrl'
    | 'temporalUiUrl'
    | 'delivery'
    | 'sendMaxAttempts'
    | 'sendInitialIntervalMs'
    | 'sendMaxIntervalMs'
    | 'temporalNamespace'
    | 'webhookSecretOverlapSeconds'
    | 'apiRequestTimeoutMs'
    | 'apiConnectionTimeoutMs'
    | 'trustProxy'
    | 'egressAllow'
    | 'allowSandboxChannels'
    | 'apiRateLimitPerMinute'
    | 'quotas'
  >;
  database: Database;
  temporal: Client;
  adapters: AdapterRegistry;
  logger: Logger;
  metrics: Metrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
  }
  interface FastifyRequest {
    accountId: string;
    /** The API key the request authenticated with (per-key rate limits). */
    apiKeyId: string;
    rawBody?: Buffer;
  }
}

/** The HTTP app, built from its dependencies so tests build it with real ones. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: 1024 * 1024,
    // Routes log one event line each; fastify's per-request lines would double them.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(deps.config.trustProxy),
    // A client that sends its headers and then stalls (or trickles) the body must not hold a socket for ever.
    requestTimeout: deps.config.apiRequestTimeoutMs,
    connectionTimeout: deps.config.apiConnectionTimeoutMs,
    // Node enforces requestTimeout only while headersTimeout (60 s by default) is not longer, and checks
    // only every connectionsCheckingInterval (30 s by default): both follow the request timeout here.
    http: {
      requestTimeout: deps.config.apiRequestTimeoutMs,
      headersTimeout: Math.min(60_000, deps.config.apiRequestTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(deps.config.apiRequestTimeoutMs / 4))),
    },
    // `x-examples` (named request examples for /docs) is an annotation: AJV must know it, and it validates nothing.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, keywords: ['x-examples'] } },
  });
  // Every workflow this app starts carries its trace id in the Temporal headers, whoever built the client.
  app.decorate('deps', { ...deps, temporal: withTraceHeaders(deps.temporal) });
  app.decorateRequest('accountId', '');
  app.decorateRequest('apiKeyId', '');
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send({ error: 'not_found', message: 'route not found' });
  });

  await registerOpenApi(app);
  await app.register(healthRoutes);
  await app.register(webhookRoutes, { prefix: '/webhooks' });
  await app.register(
    async (v1) => {
      await v1.register(authPlugin);
      await registerKeyRateLimit(v1, deps.config.apiRateLimitPerMinute);
      v1.addHook('preValidation', guardBody);
      await v1.register(channelRoutes, { prefix: '/channels' });
      await v1.register(apiKeyRoutes, { prefix: '/api-keys' });
      await v1.register(messageRoutes, { prefix: '/messages' });
      await v1.register(replayRoutes, { prefix: '/replays' });
      await v1.register(groupRoutes, { prefix: '/group-messages' });
    },
    { prefix: '/v1' },
  );
  return app;
}

/** A hop count as the function Fastify itself makes of one (its types take no number). */
function trustProxyOption(setting: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

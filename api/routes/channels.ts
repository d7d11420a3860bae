import type { FastifyPluginAsync } from 'fastify';
import { CHANNEL_TYPES, type ChannelType } from '../../adapters/types';
import { withinChannelQuota } from '../../db/quotas';
import { createChannel, getChannel } from '../../db/repo';
import type { ChannelRow } from '../../db/schema';
import { isUuid } from '../../db/uuidv7';
import { ApiError, badRequest, notFound } from '../errors';

interface CreateChannelBody {
  channel_type: ChannelType;
  provider?: string;
  name: string;
  credentials: Record<string, string>;
  rate_limit_per_second?: number;
  daily_limit?: number;
  sandbox?: boolean;
  webhook_signature?: 'required' | 'disabled';
}

const createSchema = {
  body: {
    type: 'object',
    required: ['channel_type', 'name', 'credentials'],
    additionalProperties: false,
    properties: {
      channel_type: { type: 'string', enum: [...CHANNEL_TYPES] },
      provider: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9_-]+$' },
      name: { type: 'string', minLength: 1, maxLength: 200 },
      credentials: {
        type: 'object',
        maxProperties: 50,
        additionalProperties: { type: 'string', maxLength: 4096 },
      },
      rate_limit_per_second: { type: 'integer', minimum: 1, maximum: 100000 },
      daily_limit: { type: 'integer', minimum: 1, maximum: 100000000 },
      sandbox: { type: 'boolean' },
      webhook_signature: { type: 'string', enum: ['required', 'disabled'] },
    },
  },
} as const;

const idParams = {
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
} as const;

export const channelRoutes: FastifyPluginAsync = async (app) => {
  const { database, adapters, config } = app.deps;
  const db = database.db;

  // Credentials and the webhook secret stay out of every read; the secret is shown once, at creation.
  const view = (c: ChannelRow) => ({
    id: c.id,
    channel_type: c.channelType,
    provider: c.provider,
    name: c.name,
    enabled: c.enabled,
    rate_limit_per_second: c.rateLimitPerSecond ?? adapters.get(c.channelType as ChannelType, c.provider).defaultRateLimitPerSecond,
    daily_limit: c.dailyLimit,
    sandbox: c.sandbox,
    webhook_signature: c.webhookSignatureRequired ? 'required' : 'disabled',
    webhook_url: `${config.publicBaseUrl}/webhooks/${c.channelType}/${c.id}`,
    created_at: c.createdAt.toISOString(),
  });

  const load = async (id: string, accountId: string): Promise<ChannelRow> => {
    const channel = isUuid(id) ? await getChannel(db, id, accountId) : undefined;
    if (!channel) throw notFound('channel');
    return channel;
  };

  app.post<{ Body: CreateChannelBody }>('/', { schema: createSchema }, async (req, reply) => {
    const b = req.body;
    const provider = b.provider ?? 'default';
    if (!adapters.has(b.channel_type, provider)) {
      throw badRequest('provider', `no provider "${provider}" for channel_type ${b.channel_type}`);
    }
    const adapter = adapters.get(b.channel_type, provider);
    const missing = (adapter.requiredCredentials ?? []).filter((k) => !b.credentials[k]);
    if (missing.length > 0) throw badRequest(`credentials.${missing[0]}`, `is required for ${b.channel_type}/${adapter.provider}`);
    if (b.webhook_signature === 'disabled' && b.sandbox !== true) {
      throw badRequest('webhook_signature', 'can be disabled only on a sandbox channel (sandbox: true)');
    }
    const channel = await withinChannelQuota(db, req.accountId, config.quotas, (tx) => createChannel(tx, {
      accountId: req.accountId,
      channelType: b.channel_type,
      provider: adapter.provider,
      name: b.name,
      credentials: b.credentials,
      rateLimitPerSecond: b.rate_limit_per_second ?? null,
      dailyLimit: b.daily_limit ?? null,
      sandbox: b.sandbox ?? false,
      webhookSignatureRequired: b.webhook_signature !== 'disabled',
    }));
    return reply.status(201).send({ ...view(channel), webhook_secret: channel.webhookSecret });
  });

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (req) => view(await load(req.params.id, req.accountId)));

  app.post<{ Params: { id: string } }>('/:id/verify', { schema: idParams }, async (req) => {
    const channel = await load(req.params.id, req.accountId);
    const adapter = adapters.get(channel.channelType as ChannelType, channel.provider);
    try {
      const check = await adapter.verifyCredentials(channel.credentials);
      return { id: channel.id, ok: check.ok, detail: check.detail };
    } catch (err) {
      req.log.warn({ event: 'channel_verify_failed', channel_id: channel.id, err: (err as Error).message });
      throw new ApiError(502, 'provider_unreachable', 'the provider could not be reached');
    }
  });
};

import type { FastifyPluginAsync } from 'fastify';
import type { ChannelAdapter } from '../../adapters/types';
import { CHANNEL_TYPES, type ChannelType } from '../../lifecycle';
import { MAX_WEBHOOK_ROTATION_OVERLAP_SECONDS } from '../../config';
import {
  createChannel,
  getChannel,
  getChannelForUpdate,
  listChannels,
  rotateWebhookSecret,
  updateChannel,
  type ChannelChanges,
  type ChannelListing,
} from '../../db/channels';
import { withinChannelQuota } from '../../db/quotas';
import type { ChannelRow } from '../../db/schema';
import { isUuid } from '../../db/uuidv7';
import { checkChannelTargets } from '../channel-targets';
import { ApiError, badRequest, notFound } from '../errors';
import { pageLimit, pagedListSchema, type PageQuery } from '../paging';
import { CREATE_CHANNEL_EXAMPLES } from '../openapi-examples';

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
    'x-examples': CREATE_CHANNEL_EXAMPLES,
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

interface PatchChannelBody {
  name?: string;
  rate_limit_per_second?: number | null;
  daily_limit?: number | null;
  enabled?: boolean;
  /** Merged over the stored credentials; a key set to null is removed. */
  credentials?: Record<string, string | null>;
}

const patchSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      name: createSchema.body.properties.name,
      rate_limit_per_second: { ...createSchema.body.properties.rate_limit_per_second, nullable: true, description: 'null: the provider default' },
      daily_limit: { ...createSchema.body.properties.daily_limit, nullable: true, description: 'null: no daily limit' },
      enabled: { type: 'boolean' },
      credentials: {
        type: 'object',
        minProperties: 1,
        maxProperties: 50,
        description: 'merged over the stored credentials (a key set to null is removed); verified with the provider before they are stored',
        additionalProperties: { type: 'string', maxLength: 4096, nullable: true },
      },
    },
  },
} as const;

const rotateSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      overlap_seconds: {
        type: 'integer',
        minimum: 0,
        maximum: MAX_WEBHOOK_ROTATION_OVERLAP_SECONDS,
        description: 'how long the previous secret still passes (default WEBHOOK_ROTATION_OVERLAP_SECONDS); 0 ends it at once',
      },
    },
  },
} as const;

/**
 * What a channel's credentials must satisfy, on create and on every change of them (PATCH).
 * Checks of where the credentials point belong here too, so both paths run them.
 */
export function checkChannelCredentials(adapter: ChannelAdapter, channelType: ChannelType, credentials: Readonly<Record<string, string>>): void {
  const missing = (adapter.requiredCredentials ?? []).filter((k) => !credentials[k]);
  if (missing.length > 0) throw badRequest(`credentials.${missing[0]}`, `is required for ${channelType}/${adapter.provider}`);
  const problem = adapter.credentialsProblem?.(credentials);
  if (problem) throw badRequest(`credentials.${problem.field}`, problem.reason);
}

interface ListQuery extends PageQuery {
  channel_type?: ChannelType;
}

const MAX_CHANNELS_PAGE = 200;

const listSchema = pagedListSchema(MAX_CHANNELS_PAGE, { channel_type: { type: 'string', enum: [...CHANNEL_TYPES] } });

const idParams = {
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
} as const;

export const channelRoutes: FastifyPluginAsync = async (app) => {
  const { database, adapters, config } = app.deps;
  const db = database.db;

  // Credentials and the webhook secret stay out of every read; the secret is shown once, at creation.
  const view = (c: ChannelListing) => ({
    id: c.id,
    channel_type: c.channelType,
    provider: c.provider,
    name: c.name,
    enabled: c.enabled,
    rate_limit_per_second: c.rateLimitPerSecond ?? adapters.get(c.channelType, c.provider).defaultRateLimitPerSecond,
    daily_limit: c.dailyLimit,
    sandbox: c.sandbox,
    webhook_signature: c.webhookSignatureRequired ? 'required' : 'disabled',
    webhook_url: `${config.publicBaseUrl}/webhooks/${c.channelType}/${c.id}`,
    // When a rotated-out webhook secret stops passing; null when only the current one does.
    previous_webhook_secret_expires_at:
      c.webhookSecretPrevious && c.webhookSecretPreviousUntil && c.webhookSecretPreviousUntil.getTime() > Date.now()
        ? c.webhookSecretPreviousUntil.toISOString()
        : null,
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
    checkChannelCredentials(adapter, b.channel_type, b.credentials);
    if (b.webhook_signature === 'disabled' && b.sandbox !== true) {
      throw badRequest('webhook_signature', 'can be disabled only on a sandbox channel (sandbox: true)');
    }
    checkChannelTargets(config, adapter, b.credentials, b.sandbox === true);
    const channel = await withinChannelQuota(db, req.accountId, config.quotas, (tx) =>
      createChannel(tx, {
        accountId: req.accountId,
        channelType: b.channel_type,
        provider: adapter.provider,
        name: b.name,
        credentials: b.credentials,
        rateLimitPerSecond: b.rate_limit_per_second ?? null,
        dailyLimit: b.daily_limit ?? null,
        sandbox: b.sandbox ?? false,
        webhookSignatureRequired: b.webhook_signature !== 'disabled',
      }),
    );
    return reply.status(201).send({ ...view(channel), webhook_secret: channel.webhookSecret });
  });

  app.get<{ Querystring: ListQuery }>('/', { schema: listSchema }, async (req) => {
    const q = req.query;
    const limit = pageLimit(q, MAX_CHANNELS_PAGE);
    const after = q.cursor === undefined ? undefined : Buffer.from(q.cursor, 'base64url').toString('utf8');
    if (after !== undefined && !isUuid(after)) throw badRequest('cursor', 'is not a cursor this API returned');
    const page = await listChannels(db, { accountId: req.accountId, channelType: q.channel_type, after, limit });
    const last = page.items[page.items.length - 1];
    return { items: page.items.map(view), next_cursor: page.more && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null };
  });

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (req) => view(await load(req.params.id, req.accountId)));

  app.patch<{ Params: { id: string }; Body: PatchChannelBody }>('/:id', { schema: { ...idParams, ...patchSchema } }, async (req) => {
    const b = req.body;
    const current = isUuid(req.params.id) ? await getChannelForUpdate(db, req.params.id, req.accountId) : undefined;
    if (!current) throw notFound('channel');
    const { channel, stored } = current;
    const changes: ChannelChanges = {};
    if (b.name !== undefined) changes.name = b.name;
    if (b.rate_limit_per_second !== undefined) changes.rateLimitPerSecond = b.rate_limit_per_second;
    if (b.daily_limit !== undefined) changes.dailyLimit = b.daily_limit;
    if (b.enabled !== undefined) changes.enabled = b.enabled;
    if (b.credentials) {
      const merged: Record<string, string> = { ...channel.credentials };
      for (const [k, v] of Object.entries(b.credentials)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      const adapter = adapters.get(channel.channelType, channel.provider);
      checkChannelCredentials(adapter, channel.channelType, merged);
      // The same egress and sandbox rules as at creation, before anything reaches the provider.
      checkChannelTargets(config, adapter, merged, channel.sandbox);
      // Nothing is stored that the provider has not just accepted.
      let check;
      try {
        check = await adapter.verifyCredentials(merged);
      } catch (err) {
        req.log.warn({ event: 'channel_update_rejected', channel_id: channel.id, reason: 'provider_unreachable', err: (err as Error).message });
        throw new ApiError(422, 'credentials_rejected', 'the provider could not be reached with the new credentials; nothing was changed', 'credentials');
      }
      if (!check.ok) {
        req.log.warn({ event: 'channel_update_rejected', channel_id: channel.id, reason: 'credentials_refused' });
        throw new ApiError(422, 'credentials_rejected', `the provider refused the new credentials (${check.detail}); nothing was changed`, 'credentials');
      }
      changes.credentials = merged;
    }
    const updated = await updateChannel(db, channel.id, req.accountId, changes, b.credentials ? stored : undefined);
    if (!updated) throw new ApiError(409, 'conflict', "the channel's credentials changed during this request; nothing was changed, try again", 'credentials');
    req.log.info({ event: 'channel_updated', channel_id: channel.id, fields: Object.keys(b) });
    return view(updated);
  });

  // Our own secret (Jasmin DLR tokens, Meta's verify token); provider-held signing secrets change with PATCH credentials.
  app.post<{ Params: { id: string }; Body: { overlap_seconds?: number } }>(
    '/:id/rotate-webhook-secret',
    {
      schema: { ...idParams, ...rotateSchema },
      // A POST without a body takes the default overlap.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const overlap = req.body.overlap_seconds ?? config.webhookSecretOverlapSeconds;
      const channel = isUuid(req.params.id) ? await rotateWebhookSecret(db, req.params.id, req.accountId, overlap) : undefined;
      if (!channel) throw notFound('channel');
      req.log.info({ event: 'webhook_secret_rotated', channel_id: channel.id, overlap_seconds: overlap });
      return { ...view(channel), webhook_secret: channel.webhookSecret };
    },
  );

  app.post<{ Params: { id: string } }>('/:id/verify', { schema: idParams }, async (req) => {
    const channel = await load(req.params.id, req.accountId);
    const adapter = adapters.get(channel.channelType, channel.provider);
    try {
      const check = await adapter.verifyCredentials(channel.credentials);
      return { id: channel.id, ok: check.ok, detail: check.detail };
    } catch (err) {
      req.log.warn({ event: 'channel_verify_failed', channel_id: channel.id, err: (err as Error).message });
      throw new ApiError(502, 'provider_unreachable', 'the provider could not be reached');
    }
  });
};

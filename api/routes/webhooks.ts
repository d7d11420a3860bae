import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isChannelType, WebhookPayloadError, type ChannelType, type Credentials, type StatusUpdate, type WebhookKind, type WebhookRequest } from '../../adapters/types';
import { advanceStatus, findMessageByProviderId, getChannel, getMessage } from '../../db/repo';
import { isUuid } from '../../db/uuidv7';
import { deliveryStatusSignal, messageWorkflowId } from '../../workflows/definitions';

interface Params {
  channel_type: string;
  channel_id: string;
}

type Outcome = 'applied' | 'signalled' | 'unmatched';

export const webhookRoutes: FastifyPluginAsync = async (app) => {
  const { database, adapters, temporal, metrics, config } = app.deps;
  const db = database.db;

  // Signatures are computed over the exact bytes, so every body is kept raw and parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (req, body: Buffer, done) => {
    req.rawBody = body;
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    try {
      if (type === 'application/x-www-form-urlencoded') done(null, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
      else if (type === 'application/json' || type?.endsWith('+json')) done(null, body.length ? JSON.parse(body.toString('utf8')) : {});
      else done(null, body.toString('utf8'));
    } catch {
      const err = new Error('body is not valid JSON') as Error & { statusCode: number; code: string };
      err.statusCode = 400;
      err.code = 'malformed_body';
      done(err, undefined);
    }
  });

  const reject = (reply: FastifyReply, channelType: string, status: number, reason: string, message: string) => {
    metrics.webhookRejected.inc({ channel_type: isChannelType(channelType) ? channelType : 'unknown', reason });
    return reply.status(status).send({ error: reason, message });
  };

  const deliver = async (channelId: string, update: StatusUpdate): Promise<Outcome> => {
    const message = update.messageId
      ? await getMessage(db, update.messageId)
      : await findMessageByProviderId(db, channelId, update.providerMessageId);
    if (!message || message.channelId !== channelId) return 'unmatched';
    const signal = {
      status: update.status,
      providerMessageId: update.providerMessageId,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
      occurredAt: update.occurredAt.toISOString(),
    };
    try {
      // A plain signal, never signalWithStart: a finished message must not run again.
      await temporal.workflow.getHandle(messageWorkflowId(message.id)).signal(deliveryStatusSignal, signal);
      return 'signalled';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await advanceStatus(db, message.id, { status: update.status, at: update.occurredAt, errorCode: update.errorCode, errorMessage: update.errorMessage });
      return 'applied';
    }
  };

  const handle = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const { channel_type: channelType, channel_id: channelId } = req.params;
    const channel = isChannelType(channelType) && isUuid(channelId) ? await getChannel(db, channelId) : undefined;
    if (!channel || channel.channelType !== channelType) return reject(reply, channelType, 404, 'unknown_channel', 'channel not found');
    if (!channel.enabled) return reject(reply, channelType, 404, 'channel_disabled', 'channel not found');
    const adapter = adapters.get(channelType as ChannelType, channel.provider);
    const credentials = channel.credentials as Credentials;

    const request: WebhookRequest = {
      method: req.method,
      url: `${config.publicBaseUrl}${req.url}`,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      rawBody: req.rawBody ?? Buffer.alloc(0),
      body: req.body ?? {},
      query: req.query as Record<string, string | undefined>,
    };
    const challenge = adapter.verificationChallenge?.(request, channel.webhookSecret);
    if (challenge) {
      req.log.info({ event: 'webhook_verification', channel_id: channelId, channel_type: channelType, status: challenge.status });
      return reply.status(challenge.status).headers(challenge.headers).send(challenge.body);
    }
    const secret = adapter.webhookSigningSecret?.(credentials) ?? channel.webhookSecret;
    if (!adapter.verifyWebhookSignature(request, secret)) {
      req.log.warn({ event: 'webhook_rejected', channel_id: channelId, channel_type: channelType, reason: 'bad_signature' });
      return reject(reply, channelType, 401, 'invalid_signature', 'webhook signature missing or invalid');
    }

    let updates: StatusUpdate[];
    let inboundCount: number;
    try {
      updates = adapter.parseStatusUpdates(request);
      inboundCount = adapter.parseInbound(request).length;
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      return reject(reply, channelType, 400, 'malformed_payload', err.message);
    }
    const outcomes = await Promise.all(updates.map((u) => deliver(channel.id, u)));
    const kind: WebhookKind = updates.length > 0 ? 'status' : inboundCount > 0 ? 'inbound' : 'empty';
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    req.log.info({
      event: 'webhook_received',
      channel_id: channelId,
      channel_type: channelType,
      kind,
      statuses: updates.map((u, i) => ({ message_id: u.messageId, status: u.status, outcome: outcomes[i] })),
      inbound: inboundCount,
      duration_ms: Math.round(durationMs * 100) / 100,
    });
    metrics.webhookResponse.observe({ channel_type: channelType }, durationMs / 1000);
    const answer = adapter.webhookResponse?.(kind);
    if (answer) return reply.status(answer.status).headers(answer.headers).send(answer.body);
    return reply.status(200).send({ ok: true });
  };

  const params = {
    type: 'object',
    required: ['channel_type', 'channel_id'],
    properties: { channel_type: { type: 'string', maxLength: 32 }, channel_id: { type: 'string', maxLength: 64 } },
  } as const;
  app.post<{ Params: Params }>('/:channel_type/:channel_id', { schema: { params } }, handle);
  app.get<{ Params: Params }>('/:channel_type/:channel_id', { schema: { params } }, handle);
};

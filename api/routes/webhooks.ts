import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { WebhookPayloadError, type InboundMessage, type StatusUpdate, type WebhookKind, type WebhookRequest } from '../../adapters/types';
import { isChannelType } from '../../lifecycle';
import { acceptedWebhookSecrets, cachedChannelLookup } from '../../db/channels';
import { storeInbound } from '../../db/inbound';
import type { ChannelRow } from '../../db/schema';
import { isUuid } from '../../db/uuidv7';
import { createReceipts, type ReceiptResult } from '../../dispatch/receipts';
import { traceIdFrom } from '../trace';

interface Params {
  channel_type: string;
  channel_id: string;
}

const CHANNEL_CACHE_MS = 5_000;
/** A callback that fails its check against a cached channel older than this reads the channel again (a just-rotated secret). */
const REREAD_AFTER_MS = 1_000;
const MAX_KEY_BYTES = 1024;
/** 9999-12-31T23:59:59.999Z */
const MAX_TIME_MS = 253_402_300_799_999;

const REJECT_REASON: Record<number, string> = {
  400: 'malformed_payload',
  401: 'invalid_signature',
  403: 'forbidden',
  404: 'unknown_channel',
  413: 'body_too_large',
  415: 'unsupported_media_type',
};

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

  const reject = (reply: FastifyReply, status: number, reason: string, message: string) => reply.status(status).send({ error: reason, message });

  // Every refusal is counted, including those fastify answers itself (413 too large, 415).
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode < 400) return;
    const type = (req.params as Partial<Params> | undefined)?.channel_type;
    metrics.webhookRejected.inc({
      channel_type: isChannelType(type) ? type : 'unknown',
      reason: REJECT_REASON[reply.statusCode] ?? `http_${reply.statusCode}`,
    });
  });

  const receipts = createReceipts({
    db,
    temporal,
    metrics,
    onSignal: (messageId, result, err) => {
      if (result === 'lost')
        app.log.error(
          { event: 'receipt_signal', message_id: messageId, result, err },
          'a receipt signal could be neither sent nor kept: the workflow reads the row at its deadline',
        );
      else app.log.info({ event: 'receipt_signal', message_id: messageId, result, reason: err instanceof Error ? err.message : undefined });
    },
  });
  // Signals leave the request: closing waits until each was sent or kept for the sweeper.
  app.addHook('onClose', async () => receipts.drain());

  // Providers call back in bursts for the same few channels: a short cache spares a query per
  // callback. A disabled channel stops answering within CHANNEL_CACHE_MS.
  const loadChannel = cachedChannelLookup(db, CHANNEL_CACHE_MS);

  const handle = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const { channel_type: channelType, channel_id: channelId } = req.params;
    const found = isChannelType(channelType) && isUuid(channelId) ? await loadChannel(channelId) : undefined;
    if (!found || found.channelType !== channelType || !found.enabled) return reject(reply, 404, 'unknown_channel', 'channel not found');
    let channel: ChannelRow = found;
    const adapter = adapters.get(channel.channelType, channel.provider);

    const request: WebhookRequest = {
      method: req.method,
      url: `${config.publicBaseUrl}${req.url}`,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      rawBody: req.rawBody ?? Buffer.alloc(0),
      body: req.body ?? {},
      query: req.query as Record<string, string | undefined>,
    };
    // A handshake passes with any accepted webhook secret (the previous one during a rotation's overlap).
    const handshake = (c: ChannelRow) => {
      let answer;
      for (const secret of acceptedWebhookSecrets(c)) {
        answer = adapter.verificationChallenge?.(request, secret);
        if (!answer || answer.status < 400) break;
      }
      return answer;
    };
    // The provider's signing secret when it is a credential (Twilio, Meta, email events); else ours, current or previous.
    const signed = (c: ChannelRow) => {
      const provider = adapter.webhookSigningSecret?.(c.credentials);
      return (provider !== undefined ? [provider] : acceptedWebhookSecrets(c)).some((secret) => adapter.verifyWebhookSignature(request, secret));
    };
    let challenge = handshake(channel);
    if (challenge && challenge.status >= 400) {
      const fresh = await loadChannel.reread(channelId, REREAD_AFTER_MS);
      if (fresh?.enabled) challenge = handshake((channel = fresh)) ?? challenge;
    }
    if (challenge) {
      req.log.info({ event: 'webhook_verification', channel_id: channelId, channel_type: channelType, status: challenge.status });
      return reply.status(challenge.status).headers(challenge.headers).send(challenge.body);
    }
    // Only a sandbox channel can skip the check (enforced by a CHECK constraint too).
    const mustVerify = (c: ChannelRow) => c.webhookSignatureRequired || !c.sandbox;
    if (mustVerify(channel) && !signed(channel)) {
      // A secret or credential changed since the channel was cached: the next read has it.
      const fresh = await loadChannel.reread(channelId, REREAD_AFTER_MS);
      if (!fresh?.enabled || fresh.channelType !== channelType || (mustVerify(fresh) && !signed(fresh))) {
        // remote_ip is the socket's peer unless TRUST_PROXY names the proxies in front (a forged X-Forwarded-For is not believed).
        req.log.warn({ event: 'webhook_rejected', channel_id: channelId, channel_type: channelType, reason: 'bad_signature', remote_ip: req.ip });
        return reject(reply, 401, 'invalid_signature', 'webhook signature missing or invalid');
      }
      channel = fresh;
    }

    let updates: StatusUpdate[];
    let inbound: InboundMessage[];
    try {
      updates = adapter.parseStatusUpdates(request, channel.credentials).map(withoutNul);
      inbound = adapter.parseInbound(request, channel.credentials).map(withoutNul);
      // They are index keys (pending receipts, inbound dedup, contact windows): a btree entry holds ~2.7 kB.
      const keys = [...updates.map((u) => u.providerMessageId), ...inbound.flatMap((m) => [m.providerMessageId, m.from])];
      if (keys.some((k) => Buffer.byteLength(k) > MAX_KEY_BYTES)) throw new WebhookPayloadError(`a message id or sender is longer than ${MAX_KEY_BYTES} bytes`);
      // Postgres reads no ISO string past 9999 (`+010000-…`), and an invalid Date has none at all.
      const times = [...updates.flatMap((u) => [u.occurredAt, u.watermark?.upTo]), ...inbound.map((m) => m.receivedAt)];
      if (times.some((t) => t !== undefined && !(t.getTime() >= 0 && t.getTime() <= MAX_TIME_MS)))
        throw new WebhookPayloadError('an event time is out of range');
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      return reject(reply, 400, 'malformed_payload', err.message);
    }
    const traceId = traceIdFrom(req.headers);
    const [results, stored] = await Promise.all([
      Promise.all(updates.map((u): Promise<ReceiptResult[]> => receipts.deliver(channel, u))),
      Promise.all(
        inbound.map((m) =>
          storeInbound(db, {
            accountId: channel.accountId,
            channelId: channel.id,
            channelType: channel.channelType,
            providerMessageId: m.providerMessageId,
            from: m.from,
            to: m.to,
            body: m.body,
            receivedAt: m.receivedAt,
            traceId,
          }),
        ),
      ),
    ]);
    const inboundCount = inbound.length;
    const kind: WebhookKind = updates.length > 0 ? 'status' : inboundCount > 0 ? 'inbound' : 'empty';
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    // A callback about one message logs under that message's trace id; the request's own id stays beside it.
    const first = (i: number): ReceiptResult | undefined => results[i]?.[0];
    const messageTraces = new Set(updates.map((_u, i) => first(i)?.traceId));
    const [messageTrace] = messageTraces;
    const messageIdOf = (u: StatusUpdate, i: number) => u.messageId ?? first(i)?.messageId;
    req.log.info({
      event: 'webhook_received',
      channel_id: channelId,
      channel_type: channelType,
      kind,
      trace_id: messageTraces.size === 1 && messageTrace ? messageTrace : traceId,
      request_trace_id: traceId,
      message_id: updates.length === 1 && updates[0] ? messageIdOf(updates[0], 0) : undefined,
      statuses: updates.map((u, i) => ({
        message_id: messageIdOf(u, i),
        provider_message_id: u.providerMessageId,
        status: u.status,
        outcome: results[i]?.map((r) => r.outcome),
        trace_id: first(i)?.traceId,
      })),
      inbound: inbound.map((m, i) => ({ provider_message_id: m.providerMessageId, message_id: stored[i] ?? null, duplicate: stored[i] === undefined })),
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

/**
 * Postgres text cannot hold U+0000, and a provider's receipt or a person's message
 * may still carry one: it is stored as U+FFFD rather than failing the request (and,
 * once signalled, every activity that would write it).
 */
function withoutNul<T extends StatusUpdate | InboundMessage>(item: T): T {
  const clean = (v: unknown) => (typeof v === 'string' && v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v);
  const out = Object.fromEntries(Object.entries(item).map(([k, v]) => [k, k === 'raw' ? v : clean(v)])) as T;
  if ('watermark' in out && out.watermark) out.watermark = { ...out.watermark, recipient: clean(out.watermark.recipient) as string };
  return out;
}

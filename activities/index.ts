import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AdapterRegistry } from '../adapters/registry';
import { SendError, type DispatchPayload, type TemplateRef } from '../adapters/types';
import type { Db } from '../db/client';
import { CredentialsUnreadableError } from '../db/credentials-crypto';
import { reserveSlot } from '../db/rate-limiter';
import { cachedChannelLookup } from '../db/channels';
import { advanceStatus, getMessage, messageStatus, recordSent } from '../db/messages';
import { takePendingStatuses } from '../db/pending-receipts';
import { lastInboundAt } from '../db/inbound';
import type { ChannelRow, MessageRow } from '../db/schema';
import type { StatusChange } from '../db/messages';
import { STATUS_RANK, type ChannelType, type MessageStatus } from '../lifecycle';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { currentTraceId } from '../observability/trace-context';
import { SEND_ERROR_TYPES, type DeliveryStatus, type SendFailureDetails, type SendSlot } from '../workflows/definitions';
import { statusCallbackUrl } from '../adapters/callback-token';
import { GroupContentMissingError, groupContentRenderer } from '../dispatch/group-content';

export interface ActivityDeps {
  db: Db;
  adapters: AdapterRegistry;
  logger: Logger;
  metrics: Metrics;
  publicBaseUrl: string;
}

export interface SendOutcome {
  providerMessageId: string;
  /** The row's status once the send is recorded: `sent`, or further when a receipt came first. */
  status: MessageStatus;
}

/**
 * Applies the receipts that arrived before the provider id was recorded (kept by the webhook
 * route) and returns the row's status after them.
 */
export async function applyEarlyReceipts(
  deps: Pick<ActivityDeps, 'db' | 'metrics'>,
  messageId: string,
  channelType: ChannelType,
  status: MessageStatus,
  early: StatusChange[],
): Promise<MessageStatus> {
  let now = status;
  for (const p of [...early].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status])) {
    if (STATUS_RANK[p.status] <= STATUS_RANK[now]) continue;
    if (await advanceStatus(deps.db, messageId, { ...p, source: 'webhook' })) {
      deps.metrics.messagesDispatched.inc({ channel_type: channelType, status: p.status });
      now = p.status;
    }
  }
  return now;
}

/** Writes of an accepted send tried before the attempt fails (≈ 6 s in all, backing off). */
export const RECORD_ACCEPTED_TRIES = 6;

/**
 * Records what the provider accepted: the row moves to `sent` with the provider id, and the
 * receipts that came first are applied. Once the provider has the message the send is never
 * made again in this attempt, so a failing write (a PostgreSQL restart, a lock, a lost
 * connection) is tried again on its own, with the provider id kept; only when it keeps failing
 * does the attempt fail, and its retry may send again. Returns the row's status and whether
 * this write moved it to `sent`.
 */
export async function recordAccepted(
  deps: Pick<ActivityDeps, 'db' | 'metrics'>,
  accepted: { messageId: string; channelId: string; channelType: ChannelType; providerMessageId: string },
  log: Logger,
  wait: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<{ status: MessageStatus; applied: boolean }> {
  const { messageId, channelId, channelType, providerMessageId } = accepted;
  for (let tries = 1; ; tries++) {
    try {
      const recorded = await recordSent(deps.db, messageId, new Date(), providerMessageId);
      if (recorded?.applied) deps.metrics.messagesDispatched.inc({ channel_type: channelType, status: 'sent' });
      // After the provider id is on the row: a receipt kept before then is taken here, one after it finds the row.
      const early = await takePendingStatuses(deps.db, channelId, providerMessageId);
      const status = await applyEarlyReceipts(deps, messageId, channelType, recorded?.status ?? 'sent', early);
      return { status, applied: recorded?.applied ?? false };
    } catch (err) {
      log.warn({
        event: 'record_sent_failed',
        message_id: messageId,
        provider_message_id: providerMessageId,
        tries,
        // The database's own words, not the query the driver wraps them in.
        err: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err),
      });
      if (tries >= RECORD_ACCEPTED_TRIES) throw err;
      await wait(Math.min(3_000, 100 * 2 ** tries));
    }
  }
}

/** Activities are built over narrow dependencies; workflows only see their types. */
export function createActivities(deps: ActivityDeps) {
  const { db, adapters, metrics } = deps;

  const applyEarly = (messageId: string, channelType: ChannelType, status: MessageStatus, early: StatusChange[]) =>
    applyEarlyReceipts(deps, messageId, channelType, status, early);

  // Rate settings change rarely; reading the channel on every slot would double the limiter's queries.
  const lookup = cachedChannelLookup(db);
  // Unreadable credentials (a ciphertext of another channel, a key not configured) are a
  // configuration error: the send fails for good, with a code the operator can act on.
  const cachedChannel = async (channelId: string): Promise<ChannelRow | undefined> => {
    try {
      return await lookup(channelId);
    } catch (err) {
      if (!(err instanceof CredentialsUnreadableError)) throw err;
      throw ApplicationFailure.nonRetryable(err.message, SEND_ERROR_TYPES.permanent, detail('credentials_unreadable', err.message));
    }
  };
  const renderGroupContent = groupContentRenderer(db);

  /** What the message says: its own content, or its group's rendered for its recipient (a permanent failure when too large). */
  const contentOf = async (message: MessageRow): Promise<Pick<DispatchPayload, 'body' | 'subject' | 'html' | 'template'>> => {
    let content = { body: message.body, subject: message.subject, html: message.html, template: message.template as TemplateRef | null };
    if (message.groupMessageId !== null && message.groupSeq !== null) {
      const rendered = await renderGroupContent(message.groupMessageId, message.groupSeq).catch((err: unknown) => {
        if (err instanceof GroupContentMissingError)
          throw ApplicationFailure.nonRetryable(err.message, SEND_ERROR_TYPES.permanent, detail('group_content_missing', err.message));
        throw err;
      });
      if (!rendered.ok) {
        const reason = `rendered ${rendered.field} is ${rendered.length} characters, over the limit of ${rendered.limit}`;
        throw ApplicationFailure.nonRetryable(reason, SEND_ERROR_TYPES.permanent, detail('content_too_large', reason));
      }
      content = rendered.content;
    }
    return { body: content.body ?? undefined, subject: content.subject ?? undefined, html: content.html ?? undefined, template: content.template ?? undefined };
  };

  /**
   * The workflow already waited for its slot; this gate spaces the provider calls themselves,
   * which timer and task-dispatch jitter could otherwise bunch. Waits here are short.
   */
  const sendGate = async (channel: ChannelRow, defaultPerSecond: number, log: Logger): Promise<void> => {
    const slot = await reserveSlot(db, {
      channelId: channel.id,
      scope: 'send',
      perSecond: channel.rateLimitPerSecond ?? defaultPerSecond,
      horizonMs: SEND_GATE_HORIZON_MS,
    });
    if (!slot.reserved) {
      metrics.rateLimitHits.inc({ channel_id: channel.id });
      throw ApplicationFailure.create({
        message: 'send gate saturated',
        type: SEND_ERROR_TYPES.rateLimited,
        details: [detail('send_gate', 'channel send rate saturated')],
        nextRetryDelay: slot.waitMs,
      });
    }
    if (slot.waitMs > 0) {
      log.debug({ event: 'send_gate_wait', wait_ms: slot.waitMs });
      await new Promise((r) => setTimeout(r, slot.waitMs));
    }
  };

  return {
    /** Reserves this message's send slot on its channel's shared limiter. */
    reserveSendSlot: async (channelId: string, channelType: ChannelType): Promise<SendSlot> => {
      // A channel whose credentials cannot be read needs no slot: its send fails at once.
      const channel = await lookup(channelId).catch((err: unknown) => {
        if (err instanceof CredentialsUnreadableError) return undefined;
        throw err;
      });
      if (!channel) return { waitMs: 0, reserved: true };
      const perSecond = channel.rateLimitPerSecond ?? adapters.get(channelType, channel.provider).defaultRateLimitPerSecond;
      const slot = await reserveSlot(db, { channelId, perSecond, dailyLimit: channel.dailyLimit });
      // A slot a few ms away is not worth a durable timer (two history events and a workflow
      // task): the send gate spaces the provider call itself.
      if (slot.reserved && slot.waitMs < TIMER_WORTHY_WAIT_MS) return { waitMs: 0, reserved: true };
      metrics.rateLimitHits.inc({ channel_id: channelId });
      return slot;
    },

    sendMessage: async (messageId: string): Promise<SendOutcome> => {
      const info = Context.current().info;
      const message = await getMessage(db, messageId);
      if (!message)
        throw ApplicationFailure.nonRetryable(`message ${messageId} not found`, SEND_ERROR_TYPES.permanent, detail('message_not_found', 'message row missing'));
      const channelType = message.channelType;
      const traceId = message.metadata.trace_id ?? '';
      const log = deps.logger.child({ message_id: messageId, channel_type: channelType, trace_id: traceId, attempt: info.attempt });
      // The row's id goes to the provider; the header's is on every other line of this run. Both came from the same start.
      const headerTraceId = currentTraceId();
      if (headerTraceId && headerTraceId !== traceId) log.warn({ event: 'trace_id_mismatch', header_trace_id: headerTraceId });

      // A retry after the provider accepted but before this activity completed must not send twice.
      const known = message.metadata.provider_message_id;
      if (known && message.status !== 'queued' && message.status !== 'sending') {
        log.info({ event: 'send_skipped_already_sent', provider_message_id: known });
        const early = await takePendingStatuses(db, message.channelId, known);
        return { providerMessageId: known, status: await applyEarly(messageId, channelType, message.status as MessageStatus, early) };
      }
      // Settings and credentials change rarely; a disabled channel stops sending within the cache's 5 s.
      const [channel, content] = await Promise.all([cachedChannel(message.channelId), contentOf(message)]);
      if (!channel || !channel.enabled) {
        throw ApplicationFailure.nonRetryable(
          'channel missing or disabled',
          SEND_ERROR_TYPES.permanent,
          detail('channel_disabled', 'channel missing or disabled'),
        );
      }
      const adapter = adapters.get(channelType, channel.provider);
      const [windowAt] = await Promise.all([
        adapter.usesConversationWindow ? lastInboundAt(db, channel.id, message.toAddress) : undefined,
        advanceStatus(db, messageId, { status: 'sending', at: new Date() }),
      ]);

      // Last step before the provider call, so nothing between the gate and the wire adds jitter.
      await sendGate(channel, adapter.defaultRateLimitPerSecond, log);
      const started = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
      let accepted: string;
      try {
        const result = await adapter.send(
          {
            messageId,
            to: message.toAddress,
            from: message.fromAddress ?? undefined,
            ...content,
            metadata: message.metadata.user,
          },
          channel.credentials,
          {
            traceId,
            statusCallbackUrl: statusCallbackUrl(deps.publicBaseUrl, channelType, channel.id, messageId, channel.webhookSecret),
            signal: Context.current().cancellationSignal,
            lastInboundAt: windowAt,
          },
        );
        const seconds = elapsed();
        metrics.dispatchDuration.observe({ channel_type: channelType }, seconds);
        metrics.recordSendAttempt(channelType, 'ok');
        log.info({ event: 'message_dispatched', provider_message_id: result.providerMessageId, duration_ms: Math.round(seconds * 1000) });
        accepted = result.providerMessageId;
      } catch (err) {
        metrics.dispatchDuration.observe({ channel_type: channelType }, elapsed());
        if (!(err instanceof SendError)) {
          metrics.recordSendAttempt(channelType, 'error');
          log.warn({
            event: 'send_attempt_failed',
            error_code: 'unexpected',
            err: err instanceof Error ? err.message : String(err),
            duration_ms: Math.round(elapsed() * 1000),
          });
          throw err;
        }
        metrics.recordSendAttempt(channelType, err.retryClass);
        if (err.retryClass === 'rate_limited') metrics.rateLimitHits.inc({ channel_id: channel.id });
        log.warn({
          event: 'send_attempt_failed',
          error_code: err.code,
          retry_class: err.retryClass,
          err: err.message,
          duration_ms: Math.round(elapsed() * 1000),
        });
        throw toFailure(err);
      }
      const { status } = await recordAccepted(deps, { messageId, channelId: channel.id, channelType, providerMessageId: accepted }, log);
      return { providerMessageId: accepted, status };
    },

    /** Applies a status the workflow decided (the delivery timeout) and returns the row's status after it. */
    recordStatus: async (messageId: string, update: DeliveryStatus, channelType: ChannelType): Promise<MessageStatus | undefined> => {
      const applied = await advanceStatus(db, messageId, {
        status: update.status,
        at: new Date(update.occurredAt),
        errorCode: update.errorCode,
        errorMessage: update.errorMessage,
      });
      if (applied) metrics.messagesDispatched.inc({ channel_type: channelType, status: update.status });
      return applied ? update.status : messageStatus(db, messageId);
    },

    /** The row's status: the workflow reads it before it gives up waiting for a receipt. */
    readStatus: async (messageId: string): Promise<MessageStatus | undefined> => messageStatus(db, messageId),

    recordFailure: async (messageId: string, failure: SendFailureDetails, channelType: ChannelType): Promise<void> => {
      const applied = await advanceStatus(db, messageId, {
        status: 'failed',
        at: new Date(),
        errorCode: failure.code,
        errorMessage: failure.message,
      });
      if (applied) metrics.messagesDispatched.inc({ channel_type: channelType, status: 'failed' });
      deps.logger.warn({ event: 'message_failed', message_id: messageId, channel_type: channelType, error_code: failure.code, err: failure.message });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** Shorter waits for a reserved slot are left to the send gate instead of a workflow timer. */
const TIMER_WORTHY_WAIT_MS = 50;

/** Longest in-activity wait at the send gate; beyond it the activity retries later (durably). */
const SEND_GATE_HORIZON_MS = 5_000;

function detail(code: string, message: string): SendFailureDetails {
  return { code, message };
}

/** A send error as the workflow's retry policy reads it: permanent ones are not retried, 429s wait their Retry-After. */
export function toFailure(err: SendError): ApplicationFailure {
  const details = [detail(err.code, err.message)];
  switch (err.retryClass) {
    case 'permanent':
      return ApplicationFailure.create({ message: err.message, type: SEND_ERROR_TYPES.permanent, nonRetryable: true, details });
    case 'rate_limited':
      return ApplicationFailure.create({
        message: err.message,
        type: SEND_ERROR_TYPES.rateLimited,
        details,
        nextRetryDelay: 'retryAfterMs' in err && typeof err.retryAfterMs === 'number' ? err.retryAfterMs : 1000,
      });
    default:
      return ApplicationFailure.create({ message: err.message, type: SEND_ERROR_TYPES.transient, details });
  }
}

import { ApplicationFailure, Context } from '@temporalio/activity';
import { statusCallbackUrl } from '../adapters/callback-token';
import { SendError, type DispatchPayload } from '../adapters/types';
import type { Db } from '../db/client';
import { CredentialsUnreadableError } from '../db/credentials-crypto';
import { addAttempts, batchPage, unsentPage, type BatchRecipient } from '../db/group-batches';
import { getGroup, groupContent, insertGroupMessages, recipientMessageIds, type GroupContent } from '../db/groups';
import { reserveSlot } from '../db/rate-limiter';
import { cachedChannelLookup } from '../db/channels';
import { advanceStatus } from '../db/messages';
import { lastInboundAt } from '../db/inbound';
import type { ChannelRow, GroupMessageRow } from '../db/schema';
import { renderContent } from '../dispatch/group-content';
import { recordAccepted, type ActivityDeps } from './index';
import type { BatchRequest, BatchResult } from '../workflows/definitions';
import { sql } from 'drizzle-orm';

/** Tries one recipient gets inside its batch before it is left for a retry pass. */
export const IN_BATCH_TRIES = 3;
/** Longest wait inside a batch before a retry (a longer Retry-After leaves the recipient for a retry pass). */
const IN_BATCH_MAX_WAIT_MS = 10_000;
/** Longest wait at the send gate before asking again (heartbeating meanwhile). */
const SEND_GATE_HORIZON_MS = 5_000;
/** A batch that starts this late after its reserved window reserves its slots again. */
const LATE_START_MS = 2_000;

interface Outcome {
  result: 'sent' | 'failed' | 'deferred';
  tries: number;
  retryAfterMs?: number;
}

/**
 * The batched fan-out's send: a page of a group's recipients through the channel's adapter,
 * paced over the slots the workflow reserved, `concurrency` calls at a time. Each recipient's
 * outcome is written to its row as it comes (sent + provider id, or failed with the code), so a
 * retried or resumed batch skips what is recorded: a recipient is sent twice only when the
 * provider accepted it and the worker died before its row was written.
 */
/** A batched group's sends (workflows/group-batches.ts), on the channel type's worker. */
export interface SendBatchActivities {
  sendBatch(request: BatchRequest): Promise<BatchResult>;
}

export function createBatchActivities(deps: ActivityDeps): SendBatchActivities {
  const { db, adapters, metrics } = deps;
  const lookup = cachedChannelLookup(db);
  // A group's content never changes: read once per group per process (a few groups at a time).
  const contents = new Map<string, Promise<GroupContent | undefined>>();
  const contentOf = (groupId: string) => {
    let c = contents.get(groupId);
    if (!c) {
      c = groupContent(db, groupId);
      contents.set(groupId, c);
      void c.catch(() => contents.delete(groupId));
      while (contents.size > 16) contents.delete(contents.keys().next().value ?? '');
    }
    return c;
  };

  return {
    async sendBatch(req: BatchRequest): Promise<BatchResult> {
      const ctx = Context.current();
      const group = await getGroup(db, req.groupId);
      if (!group) throw ApplicationFailure.nonRetryable(`group ${req.groupId} not found`, 'GroupNotFound');
      const none: BatchResult = { throughSeq: req.afterSeq, recipients: 0, sent: 0, failed: 0, deferred: 0, skipped: 0, retryAfterMs: 0 };
      if (group.status === 'cancelled') return none;
      const log = deps.logger.child({ group_message_id: group.id, trace_id: group.metadata.trace_id ?? '', attempt: ctx.info.attempt });

      const page =
        req.pass === 'first' ? await batchPage(db, group, req.afterSeq, req.afterSeq + req.limit) : await unsentPage(db, group, req.afterSeq, req.limit);
      if (page.length === 0) return none;
      await materialize(db, group, page);
      const todo = page.filter((r) => r.providerMessageId === null && (r.status === null || r.status === 'queued' || r.status === 'sending'));
      const result: BatchResult = { ...none, throughSeq: page.at(-1)?.seq ?? req.afterSeq, recipients: page.length, skipped: page.length - todo.length };

      const channelType = group.channelType;
      const fail = async (r: BatchRecipient, code: string, message: string): Promise<void> => {
        if (await advanceStatus(db, r.messageId ?? '', { status: 'failed', at: new Date(), errorCode: code, errorMessage: message })) {
          metrics.messagesDispatched.inc({ channel_type: channelType, status: 'failed' });
        }
        result.failed++;
      };

      let channel: ChannelRow | undefined;
      try {
        channel = await lookup(group.channelId);
      } catch (err) {
        if (!(err instanceof CredentialsUnreadableError)) throw err;
        for (const r of todo) await fail(r, 'credentials_unreadable', err.message);
        return finish(db, group, req, result, [], log);
      }
      const content = await contentOf(group.id);
      if (!channel || !channel.enabled || !content) {
        const [code, message] = content ? ['channel_disabled', 'channel missing or disabled'] : ['group_content_missing', `group ${group.id} has no content`];
        for (const r of todo) await fail(r, code, message);
        return finish(db, group, req, result, [], log);
      }
      const ch = channel;
      const adapter = adapters.get(channelType, ch.provider);
      const traceId = group.metadata.trace_id ?? '';

      // The workflow reserved req.limit slots from startAtMs on; a retried or late batch reserves anew.
      let startAt = req.startAtMs;
      if (ctx.info.attempt > 1 || Date.now() > req.startAtMs + LATE_START_MS) {
        const perSecond = ch.rateLimitPerSecond ?? adapter.defaultRateLimitPerSecond;
        const slot = await reserveSlot(db, { channelId: ch.id, perSecond, count: Math.max(1, todo.length), horizonMs: 24 * 3_600_000 });
        startAt = Date.now() + slot.waitMs;
      }

      const pause = async (ms: number): Promise<void> => {
        const until = Date.now() + ms;
        while (Date.now() < until && !ctx.cancellationSignal.aborted) {
          ctx.heartbeat();
          await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, until - Date.now())));
        }
      };

      // Each provider call passes the channel's send gate, as a single message's does: the shared
      // limiter spaces the calls themselves across every batch, message and worker of the channel,
      // so a lane that wakes late (a busy event loop) or a batch that runs over its window takes the
      // next free slot instead of bunching calls together.
      const perSecond = ch.rateLimitPerSecond ?? adapter.defaultRateLimitPerSecond;
      const pace = async (): Promise<void> => {
        for (;;) {
          const slot = await reserveSlot(db, { channelId: ch.id, scope: 'send', perSecond, horizonMs: SEND_GATE_HORIZON_MS });
          if (slot.waitMs > 0) await pause(slot.waitMs);
          if (slot.reserved || ctx.cancellationSignal.aborted) return;
        }
      };

      const sendOne = async (r: BatchRecipient): Promise<Outcome> => {
        const messageId = r.messageId ?? '';
        const rendered = renderContent(content, r.variables);
        if (!rendered.ok) {
          await fail(r, 'content_too_large', `rendered ${rendered.field} is ${rendered.length} characters, over the limit of ${rendered.limit}`);
          return { result: 'failed', tries: 0 };
        }
        const c = rendered.content;
        const payload: DispatchPayload = {
          messageId,
          to: r.to,
          body: c.body ?? undefined,
          subject: c.subject ?? undefined,
          html: c.html ?? undefined,
          template: c.template ?? undefined,
          metadata: group.metadata.user,
        };
        const windowAt = adapter.usesConversationWindow ? await lastInboundAt(db, ch.id, r.to) : undefined;
        for (let tries = 1; ; tries++) {
          await pace();
          const started = process.hrtime.bigint();
          const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
          let accepted: string;
          try {
            const sent = await adapter.send(payload, ch.credentials, {
              traceId,
              statusCallbackUrl: statusCallbackUrl(deps.publicBaseUrl, channelType, ch.id, messageId, ch.webhookSecret),
              signal: ctx.cancellationSignal,
              lastInboundAt: windowAt,
            });
            metrics.dispatchDuration.observe({ channel_type: channelType }, elapsed());
            metrics.recordSendAttempt(channelType, 'ok');
            accepted = sent.providerMessageId;
          } catch (err) {
            metrics.dispatchDuration.observe({ channel_type: channelType }, elapsed());
            const e = err instanceof SendError ? err : undefined;
            const retryClass = e?.retryClass ?? 'transient';
            metrics.recordSendAttempt(channelType, e ? e.retryClass : 'error');
            if (retryClass === 'rate_limited') metrics.rateLimitHits.inc({ channel_id: ch.id });
            const code = e?.code ?? 'unexpected';
            const message = err instanceof Error ? err.message : String(err);
            log.warn({ event: 'send_attempt_failed', message_id: messageId, seq: r.seq, error_code: code, retry_class: retryClass, err: message });
            if (retryClass === 'permanent' || r.attempts + tries >= req.retry.maxAttempts) {
              await fail(r, code, message);
              return { result: 'failed', tries };
            }
            const retryAfterMs = e && 'retryAfterMs' in e && typeof e.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
            const backoff =
              retryClass === 'rate_limited'
                ? (retryAfterMs ?? 1_000)
                : Math.min(req.retry.maxIntervalMs, req.retry.initialIntervalMs * 2 ** (r.attempts + tries - 1));
            if (tries >= IN_BATCH_TRIES || backoff > IN_BATCH_MAX_WAIT_MS || ctx.cancellationSignal.aborted) {
              result.deferred++;
              return { result: 'deferred', tries, retryAfterMs: retryClass === 'rate_limited' ? backoff : 0 };
            }
            await pause(backoff);
            continue;
          }
          // The provider has it: from here on a failure is the row's write, tried again on its own, never the send.
          await recordAccepted(deps, { messageId, channelId: ch.id, channelType, providerMessageId: accepted }, log, pause);
          result.sent++;
          return { result: 'sent', tries };
        }
      };

      // The batch begins when its page is loaded and made, a little after its first slot: the
      // schedule moves by that lateness (as every batch's does) instead of catching up in a burst.
      startAt = Math.max(startAt, Date.now());
      const attempts: Array<{ seq: number; n: number }> = [];
      let nextIndex = 0;
      const lane = async (): Promise<void> => {
        for (let i = nextIndex++; i < todo.length; i = nextIndex++) {
          if (ctx.cancellationSignal.aborted) return;
          const due = startAt + i * req.intervalMs;
          if (due > Date.now()) await pause(due - Date.now());
          const r = todo[i];
          if (!r) continue;
          const outcome = await sendOne(r);
          attempts.push({ seq: r.seq, n: outcome.tries });
          if (outcome.retryAfterMs) result.retryAfterMs = Math.max(result.retryAfterMs, outcome.retryAfterMs);
          ctx.heartbeat({ done: nextIndex });
        }
      };
      // A lane that fails stops the others before the attempt fails: its retry must not overlap it.
      const lanes = await Promise.allSettled(
        Array.from({ length: Math.min(Math.max(1, req.concurrency), Math.max(1, todo.length)) }, () =>
          lane().catch((err: unknown) => {
            nextIndex = todo.length;
            throw err;
          }),
        ),
      );
      const failedLane = lanes.find((l) => l.status === 'rejected');
      if (failedLane) {
        await addAttempts(db, group.id, attempts);
        throw failedLane.reason;
      }
      return finish(db, group, req, result, attempts, log);
    },
  };
}

/** Gives each recipient without one its message row (queued, no workflow of its own). */
async function materialize(db: Db, group: GroupMessageRow, page: BatchRecipient[]): Promise<void> {
  const fresh = page.filter((r) => r.messageId === null);
  if (fresh.length === 0) return;
  const claimed = await insertGroupMessages(
    db,
    group,
    fresh.map((r) => r.seq),
  );
  // An earlier attempt of this batch, still running, claimed some first: use its ids and read their state again.
  const lost = fresh.filter((r) => !claimed.has(r.seq)).map((r) => r.seq);
  const theirs = lost.length > 0 ? await recipientMessageIds(db, group.id, lost) : new Map<number, string>();
  for (const r of fresh) {
    const id = claimed.get(r.seq);
    if (id) {
      r.messageId = id;
      r.status = 'queued';
    } else {
      r.messageId = theirs.get(r.seq) ?? null;
      // Not ours to send: the attempt that claimed it sends it.
      r.status = 'sent';
    }
  }
}

async function finish(
  db: Db,
  group: GroupMessageRow,
  req: BatchRequest,
  result: BatchResult,
  attempts: Array<{ seq: number; n: number }>,
  log: ActivityDeps['logger'],
): Promise<BatchResult> {
  await addAttempts(db, group.id, attempts);
  await db.execute(sql`
    UPDATE group_messages SET cursor = GREATEST(cursor, ${req.cursorThrough}), started = started + ${result.sent + result.failed}, updated_at = now()
    WHERE id = ${group.id}`);
  log.info({
    event: 'group_batch_sent',
    pass: req.pass,
    after_seq: req.afterSeq,
    through_seq: result.throughSeq,
    sent: result.sent,
    failed: result.failed,
    deferred: result.deferred,
    skipped: result.skipped,
  });
  return result;
}

import type { FastifyPluginAsync } from 'fastify';
import type { TemplateRef } from '../../adapters/types';
import { consumeDailyMessages } from '../../db/quotas';
import { getMessage, insertMessage, InvalidCursorError, listMessageEvents, listMessages, markWorkflowStarted } from '../../db/messages';
import type { MessageRow } from '../../db/schema';
import { isUuid } from '../../db/uuidv7';
import { MESSAGE_STATUSES } from '../../lifecycle';
import { CONTENT_PROPERTIES } from '../content-schema';
import { SEND_MESSAGE_EXAMPLES } from '../openapi-examples';
import { ApiError, badRequest, notFound } from '../errors';
import { withGroupTexts } from '../../dispatch/group-content';
import { replayMessage } from '../../dispatch/replay';
import { idempotencyKey, withIdempotency } from '../idempotency';
import { startDispatch } from '../../dispatch/start';
import { checkContent, sendableChannel } from '../sendable';
import { traceIdFrom } from '../trace';
import { pageLimit, pagedListSchema, type PageQuery } from '../paging';
import { quoted, uiLinks, type UiLinks } from '../links';
import { groupWorkflowId } from '../../workflows/definitions';

interface SendBody {
  channel_id: string;
  to: string;
  from?: string;
  body?: string;
  subject?: string;
  html?: string;
  template?: TemplateRef;
  metadata?: Record<string, unknown>;
}

const sendSchema = {
  body: {
    type: 'object',
    required: ['channel_id', 'to'],
    additionalProperties: false,
    'x-examples': SEND_MESSAGE_EXAMPLES,
    properties: {
      ...CONTENT_PROPERTIES,
      to: { type: 'string', minLength: 1, maxLength: 320 },
      from: { type: 'string', minLength: 1, maxLength: 320 },
    },
  },
} as const;

interface ListQuery extends PageQuery {
  status?: string;
  channel_id?: string;
  group_message_id?: string;
  direction?: 'outbound' | 'inbound';
  since?: string;
  until?: string;
}

const MAX_MESSAGES_PAGE = 1000;

const listSchema = pagedListSchema(MAX_MESSAGES_PAGE, {
  status: { type: 'string', enum: MESSAGE_STATUSES },
  channel_id: { type: 'string', maxLength: 64 },
  group_message_id: { type: 'string', maxLength: 64 },
  direction: { type: 'string', enum: ['outbound', 'inbound'] },
  since: { type: 'string', format: 'date-time' },
  until: { type: 'string', format: 'date-time' },
});

export function messageView(m: MessageRow, links: UiLinks) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  // A batched group's recipient has no workflow of its own: its send is in the group's.
  const workflowId = m.workflowId ?? (m.groupMessageId ? groupWorkflowId(m.groupMessageId) : null);
  return {
    id: m.id,
    account_id: m.accountId,
    channel_id: m.channelId,
    channel_type: m.channelType,
    direction: m.direction,
    to: m.toAddress,
    from: m.fromAddress,
    body: m.body,
    subject: m.subject,
    status: m.status,
    provider_message_id: m.metadata.provider_message_id ?? null,
    error: m.errorCode ? { code: m.errorCode, message: m.errorMessage } : null,
    workflow_id: m.workflowId,
    trace_id: m.metadata.trace_id ?? null,
    group_message_id: m.groupMessageId,
    replays: m.replays,
    metadata: m.metadata.user ?? {},
    created_at: iso(m.createdAt),
    sending_at: iso(m.sendingAt),
    sent_at: iso(m.sentAt),
    delivered_at: iso(m.deliveredAt),
    read_at: iso(m.readAt),
    failed_at: iso(m.failedAt),
    updated_at: iso(m.updatedAt),
    links: { temporal_ui: links.workflow(workflowId) },
  };
}

/**
 * The Web UI's view of the same list: the account's message workflows, by channel and status.
 * A failed send is a Failed workflow (the UI's own filter); other statuses are `MessageStatus`.
 * Batched group recipients have no workflow of their own and are not in it.
 */
function uiListQuery(accountId: string, q: ListQuery): string {
  const terms = [`AccountId=${quoted(accountId)}`, `WorkflowType="dispatchMessage"`];
  if (q.channel_id) terms.push(`ChannelId=${quoted(q.channel_id)}`);
  if (q.status === 'failed') terms.push('ExecutionStatus="Failed"');
  else if (q.status) terms.push(`MessageStatus=${quoted(q.status)}`);
  return terms.join(' AND ');
}

export const messageRoutes: FastifyPluginAsync = async (app) => {
  const { database, adapters, temporal, config } = app.deps;
  const db = database.db;
  const links = uiLinks(config.temporalUiUrl, config.temporalNamespace);
  const view = (m: MessageRow) => messageView(m, links);

  app.post<{ Body: SendBody }>('/', { schema: sendSchema }, async (req, reply) => {
    const b = req.body;
    const { channel, adapter } = await sendableChannel(db, adapters, b.channel_id, req.accountId);
    const invalidTo = adapter.validateAddress?.(b.to);
    if (invalidTo) throw badRequest('to', invalidTo);
    checkContent(b, channel.channelType);

    const traceId = traceIdFrom(req.headers);
    const result = await withIdempotency(db, req.accountId, idempotencyKey(req), b, async (presetId, resumed) => {
      // Counted once per message: a repeat that finds the row stored counts nothing.
      if (!(resumed && presetId && (await getMessage(db, presetId, req.accountId)))) {
        await consumeDailyMessages(db, req.accountId, 1, config.quotas);
      }
      const message = await insertMessage(db, {
        id: presetId,
        accountId: req.accountId,
        channelId: channel.id,
        channelType: channel.channelType,
        to: b.to,
        from: b.from,
        body: b.body,
        subject: b.subject,
        html: b.html,
        template: b.template,
        metadata: { trace_id: traceId, ...(b.metadata ? { user: b.metadata } : {}) },
      });
      const log = req.log.child({ message_id: message.id, channel_type: channel.channelType, trace_id: message.metadata.trace_id });
      if (!message.workflowStartedAt) {
        try {
          await startDispatch(temporal, message, config);
          await markWorkflowStarted(db, message.id);
        } catch (err) {
          // The row is stored with workflow_started_at NULL: the outbox sweeper starts it later.
          log.error({ event: 'workflow_start_deferred', err: (err as Error).message });
        }
      }
      log.info({ event: 'message_accepted' });
      return {
        statusCode: 202,
        body: {
          id: message.id,
          status: 'queued',
          workflow_id: message.workflowId,
          trace_id: message.metadata.trace_id ?? traceId,
          links: { temporal_ui: links.workflow(message.workflowId) },
        },
      };
    });
    return reply
      .status(result.statusCode)
      .header('x-trace-id', typeof result.body.trace_id === 'string' ? result.body.trace_id : traceId)
      .header('idempotent-replayed', String(result.replayed))
      .send(result.body);
  });

  app.get<{ Querystring: ListQuery }>('/', { schema: listSchema }, async (req) => {
    const q = req.query;
    const since = q.since ? new Date(q.since) : undefined;
    const until = q.until ? new Date(q.until) : undefined;
    if (since && until && until <= since) throw badRequest('until', 'must be after since');
    if (q.channel_id && !isUuid(q.channel_id)) throw badRequest('channel_id', 'is not a channel id');
    if (q.group_message_id && !isUuid(q.group_message_id)) throw badRequest('group_message_id', 'is not a group message id');
    const limit = pageLimit(q, MAX_MESSAGES_PAGE);
    try {
      const page = await listMessages(db, {
        accountId: req.accountId,
        status: q.status,
        channelId: q.channel_id,
        groupMessageId: q.group_message_id,
        direction: q.direction,
        since,
        until,
        limit,
        cursor: q.cursor,
      });
      return {
        items: (await withGroupTexts(db, page.items)).map(view),
        next_cursor: page.nextCursor ?? null,
        links: { temporal_ui: links.list(uiListQuery(req.accountId, q)) },
      };
    } catch (err) {
      if (err instanceof InvalidCursorError) throw badRequest('cursor', err.message);
      throw err;
    }
  });

  const idParams = { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } as const;

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (req) => {
    const m = await getMessage(db, req.params.id, req.accountId);
    if (!m) throw notFound('message');
    // A group's message shows its group's content as rendered for its recipient.
    const [shown = m] = await withGroupTexts(db, [m]);
    return view(shown);
  });

  app.post<{ Params: { id: string } }>('/:id/replay', { schema: idParams }, async (req, reply) => {
    const m = await getMessage(db, req.params.id, req.accountId);
    if (!m) throw notFound('message');
    const outcome = await replayMessage({ db, temporal, dispatch: config, logger: app.deps.logger }, m.id, req.accountId, 'api');
    if (outcome === 'not_replayable') {
      throw new ApiError(409, 'not_replayable', `message is ${m.status}; only failed or undelivered messages can be replayed`);
    }
    req.log.info({ event: 'message_replayed', message_id: m.id, channel_type: m.channelType, trace_id: m.metadata.trace_id });
    // A batched group's recipient had no workflow of its own: the replay gives it `message-<id>`.
    return reply.status(202).send({ id: m.id, status: 'queued', workflow_id: m.workflowId ?? `message-${m.id}`, previous_status: m.status });
  });

  app.get<{ Params: { id: string } }>('/:id/events', { schema: idParams }, async (req) => {
    const m = await getMessage(db, req.params.id, req.accountId);
    if (!m) throw notFound('message');
    const events = await listMessageEvents(db, m.id);
    return {
      message_id: m.id,
      status: m.status,
      events: events.map((e) => ({
        kind: e.kind,
        status: e.status,
        run: e.run,
        occurred_at: e.occurredAt.toISOString(),
        provider_time: e.providerTime?.toISOString() ?? null,
        recorded_at: e.recordedAt.toISOString(),
        source: e.source,
        error_code: e.errorCode,
      })),
    };
  });
};

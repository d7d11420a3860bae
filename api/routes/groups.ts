import { WorkflowNotFoundError } from '@temporalio/client';
import { CsvError, parse } from 'csv-parse/sync';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { ChannelAdapter, TemplateRef } from '../../adapters/types';
import {
  appendRecipients,
  beginGroup,
  cancelDraftGroup,
  createGroup,
  getGroup,
  groupMessageCounts,
  markGroupWorkflowStarted,
  type GroupContent,
  type GroupMode,
  type RecipientInput,
} from '../../db/groups';
import { recentSendRate } from '../../db/group-batches';
import { checkGroupSize, consumeDailyMessages, QuotaExceededError, refundDailyMessages } from '../../db/quotas';
import type { GroupMessageRow } from '../../db/schema';
import { isUuid } from '../../db/uuidv7';
import { cancelGroupSignal, groupWorkflowId, pauseGroupSignal, resumeGroupSignal } from '../../workflows/definitions';
import { CONTENT_PROPERTIES } from '../content-schema';
import { uiLinks } from '../links';
import { ApiError, badRequest, notFound, quotaExceeded } from '../errors';
import { idempotencyKey, withIdempotency } from '../idempotency';
import { CREATE_GROUP_EXAMPLES } from '../openapi-examples';
import { checkContent, sendableChannel } from '../sendable';
import { placeholdersOf } from '../../dispatch/group-content';
import { startGroupFanout } from '../../dispatch/start';
import { traceIdFrom } from '../trace';

/** Per call; bigger lists arrive in several POST /:id/recipients calls. */
export const MAX_RECIPIENTS_PER_CALL = 10_000;
const BODY_LIMIT = 16 * 1024 * 1024;
const MAX_VARIABLES = 50;
const VARIABLE_NAME = /^[A-Za-z_][\w.-]{0,63}$/;

interface CreateBody {
  channel_id: string;
  body?: string;
  subject?: string;
  html?: string;
  template?: TemplateRef;
  recipients?: unknown[];
  draft?: boolean;
  mode?: GroupMode;
  metadata?: Record<string, unknown>;
}

const createSchema = {
  body: {
    type: 'object',
    required: ['channel_id'],
    additionalProperties: false,
    'x-examples': CREATE_GROUP_EXAMPLES,
    properties: {
      ...CONTENT_PROPERTIES,
      // Items are checked by hand so an error names `recipients[i].to`, the way a caller indexes them.
      recipients: { type: 'array', maxItems: MAX_RECIPIENTS_PER_CALL },
      draft: { type: 'boolean' },
      // batched: the group's workflow sends its recipients in pages; per_message: a workflow per recipient.
      mode: { type: 'string', enum: ['batched', 'per_message'] },
    },
  },
} as const;

const idParams = { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } as const;

const conflict = (message: string) => new ApiError(409, 'conflict', message, 'status');

export const groupRoutes: FastifyPluginAsync = async (app) => {
  const { database, adapters, temporal, config } = app.deps;
  const db = database.db;

  // Scoped to this plugin: only recipient uploads take CSV.
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

  const load = async (id: string, accountId: string): Promise<GroupMessageRow> => {
    const group = isUuid(id) ? await getGroup(db, id, accountId) : undefined;
    if (!group) throw notFound('group message');
    return group;
  };

  const adapterFor = async (channelId: string, accountId: string): Promise<ChannelAdapter> =>
    (await sendableChannel(db, adapters, channelId, accountId)).adapter;

  /** A group's recipients count against the daily quota when it starts, and only then. */
  const beginWithinQuota = async (group: GroupMessageRow): Promise<GroupMessageRow | undefined> => {
    await checkGroupSize(db, group.accountId, group.total, config.quotas);
    await consumeDailyMessages(db, group.accountId, group.total, config.quotas);
    const running = await beginGroup(db, group.id, group.total);
    if (running) return running;
    await refundDailyMessages(db, group.accountId, group.total);
    const current = await getGroup(db, group.id);
    if (current?.status === 'draft' && current.total !== group.total) throw conflict('recipients were added meanwhile: start again');
    return undefined;
  };

  /** draft → running (or a retry of a start that failed), then the workflow; 503 leaves it retryable. */
  const start = async (group: GroupMessageRow, log: FastifyBaseLogger): Promise<GroupMessageRow> => {
    const running = group.status === 'running' ? group : await beginWithinQuota(group);
    if (!running) throw group.total === 0 ? badRequest('recipients', 'the group has no recipients') : conflict(`group is ${group.status}`);
    try {
      await startGroupFanout(temporal, running, config);
      await markGroupWorkflowStarted(db, running.id);
    } catch (err) {
      log.error({ event: 'group_start_deferred', group_message_id: running.id, err: (err as Error).message });
      throw new ApiError(503, 'start_deferred', `group stored but its fan-out could not be started: retry POST /v1/group-messages/${running.id}/start`);
    }
    log.info({ event: 'group_started', group_message_id: running.id, recipients: running.total, trace_id: running.metadata.trace_id });
    return running;
  };

  // Over the daily quota the group stays a draft, which the caller can start once the quota allows.
  const storedAsDraft = (err: unknown, id: string): unknown => {
    if (!(err instanceof QuotaExceededError)) return err;
    const e = quotaExceeded(err);
    const message = `${e.message}; the group is stored as a draft: POST /v1/group-messages/${id}/start when the quota allows`;
    return new ApiError(e.statusCode, e.code, message, undefined, { ...e.details, id, status: 'draft' }, e.retryAfterSeconds);
  };

  const links = uiLinks(config.temporalUiUrl, config.temporalNamespace);
  const accepted = (g: GroupMessageRow) => ({
    id: g.id,
    status: g.status,
    mode: g.mode,
    total: g.total,
    workflow_id: g.workflowId,
    trace_id: g.metadata.trace_id ?? null,
    links: { temporal_ui: links.workflow(g.workflowId) },
  });

  app.post<{ Body: CreateBody }>('/', { schema: createSchema, bodyLimit: BODY_LIMIT }, async (req, reply) => {
    const b = req.body;
    const adapter = await adapterFor(b.channel_id, req.accountId);
    checkContent(b, adapter.channelType);
    const content: GroupContent = { body: b.body, subject: b.subject, html: b.html, template: b.template };
    const recipients = checkRecipients(b.recipients ?? [], adapter, placeholdersOf(content));
    if (!b.draft && recipients.length === 0) throw badRequest('recipients', 'at least one recipient is required unless draft is true');
    await checkGroupSize(db, req.accountId, recipients.length, config.quotas);

    const traceId = traceIdFrom(req.headers);
    const result = await withIdempotency(db, req.accountId, idempotencyKey(req), b, async (presetId) => {
      let group = await createGroup(db, {
        id: presetId,
        accountId: req.accountId,
        channelId: b.channel_id,
        channelType: adapter.channelType,
        content,
        metadata: { trace_id: traceId, ...(b.metadata ? { user: b.metadata } : {}) },
        recipients,
        mode: b.mode ?? 'batched',
      });
      req.log.info({
        event: 'group_accepted',
        group_message_id: group.id,
        recipients: group.total,
        draft: b.draft === true,
        trace_id: group.metadata.trace_id,
      });
      // A repeat of a first attempt that died before the start finds the group stored and finishes it.
      if (!b.draft && group.workflowStartedAt === null)
        group = await start(group, req.log).catch((err: unknown) => {
          throw storedAsDraft(err, group.id);
        });
      return { statusCode: b.draft ? 201 : 202, body: accepted(group) };
    });
    return reply
      .status(result.statusCode)
      .header('x-trace-id', typeof result.body.trace_id === 'string' ? result.body.trace_id : traceId)
      .header('idempotent-replayed', String(result.replayed))
      .send(result.body);
  });

  app.post<{ Params: { id: string } }>('/:id/recipients', { schema: idParams, bodyLimit: BODY_LIMIT }, async (req) => {
    const group = await load(req.params.id, req.accountId);
    if (group.status !== 'draft') throw conflict(`recipients can only be added to a draft group (this one is ${group.status})`);
    const adapter = await adapterFor(group.channelId, req.accountId);
    const needed = placeholdersOf({ body: group.body, subject: group.subject, html: group.html, template: group.template as TemplateRef | null });
    const recipients = typeof req.body === 'string' ? checkCsv(req.body, adapter, needed) : checkRecipients(recipientsOf(req.body), adapter, needed);
    if (recipients.length === 0) throw badRequest('recipients', 'no recipients given');
    await checkGroupSize(db, req.accountId, group.total + recipients.length, config.quotas);
    const added = await appendRecipients(db, group.id, recipients);
    if (!added) throw conflict('the group was started or cancelled meanwhile');
    return { id: group.id, status: 'draft', total: added.total, added: added.added };
  });

  app.post<{ Params: { id: string } }>('/:id/start', { schema: idParams }, async (req, reply) => {
    const group = await load(req.params.id, req.accountId);
    if (group.status !== 'draft' && group.status !== 'running') throw conflict(`group is ${group.status}`);
    return reply.status(202).send(accepted(await start(group, req.log)));
  });

  const signals = { pause: pauseGroupSignal, resume: resumeGroupSignal, cancel: cancelGroupSignal } as const;
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post<{ Params: { id: string } }>(`/:id/${action}`, { schema: idParams }, async (req, reply) => {
      const group = await load(req.params.id, req.accountId);
      if (action === 'cancel' && group.status === 'draft' && (await cancelDraftGroup(db, group.id))) {
        return reply.status(202).send({ id: group.id, requested: action, status: 'cancelled' });
      }
      if (group.status !== 'running' && group.status !== 'paused') throw conflict(`group is ${group.status}`);
      try {
        await temporal.workflow.getHandle(groupWorkflowId(group.id)).signal(signals[action]);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw conflict(`the fan-out is not running (it finished, or its start failed: POST /v1/group-messages/${group.id}/start)`);
        throw err;
      }
      req.log.info({ event: `group_${action}_requested`, group_message_id: group.id, trace_id: group.metadata.trace_id });
      // The workflow applies it at its next page and records the new status.
      return reply.status(202).send({ id: group.id, requested: action, status: group.status });
    });
  }

  app.get<{ Params: { id: string } }>('/:id', { schema: idParams }, async (req) => {
    const g = await load(req.params.id, req.accountId);
    const [counts, rate] = await Promise.all([groupMessageCounts(db, g), g.status === 'running' ? recentSendRate(db, g) : undefined]);
    const messages = Object.values(counts).reduce((a, n) => a + n, 0);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    // Recipients not yet handed to the provider: without a message, or queued / sending.
    const unsent = g.total - messages + counts.queued + counts.sending;
    const perSecond = rate ? Math.round(rate.ratePerSecond * 10) / 10 : 0;
    return {
      id: g.id,
      status: g.status,
      mode: g.mode,
      channel_id: g.channelId,
      channel_type: g.channelType,
      total: g.total,
      ...counts,
      // Recipients without a message: not reached yet, or never (cancelled).
      remaining: g.total - messages,
      progress: { materialized: g.materialized, started: g.started },
      // Over the last minute; the ETA is for the unsent recipients at that rate (null: not sending now).
      send_rate_per_second: perSecond,
      eta_seconds: g.status === 'running' && perSecond > 0 ? Math.ceil(unsent / perSecond) : null,
      workflow_id: g.workflowId,
      trace_id: g.metadata.trace_id ?? null,
      metadata: g.metadata.user ?? {},
      created_at: iso(g.createdAt),
      started_at: iso(g.startedAt),
      fanout_completed_at: iso(g.fanoutCompletedAt),
      cancelled_at: iso(g.cancelledAt),
      updated_at: iso(g.updatedAt),
      links: { temporal_ui: links.workflow(g.workflowId) },
    };
  });
};

/**
 * Each child's input minus its id, from the same function single messages use,
 * so group and single sends cannot drift apart. It reads only channel fields.
 */
function recipientsOf(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('recipients', 'send {"recipients": [...]} or text/csv');
  const extra = Object.keys(body).find((k) => k !== 'recipients');
  if (extra) throw badRequest(extra, 'is not an allowed property');
  const list = (body as { recipients?: unknown }).recipients;
  if (!Array.isArray(list)) throw badRequest('recipients', 'must be an array');
  return list;
}

function checkRecipients(list: unknown[], adapter: ChannelAdapter, needed: Set<string>, lines?: number[]): RecipientInput[] {
  if (list.length > MAX_RECIPIENTS_PER_CALL) throw badRequest('recipients', `at most ${MAX_RECIPIENTS_PER_CALL} per call; send the rest in further calls`);
  return list.map((item, i) => {
    const at = (field: string, reason: string) => badRequest(`recipients[${i}]${field}`, lines ? `${reason} (CSV line ${lines[i] ?? '?'})` : reason);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw at('', 'must be an object with "to"');
    const { to, variables, ...extra } = item as Record<string, unknown>;
    const unknown = Object.keys(extra)[0];
    if (unknown !== undefined) throw at(`.${unknown}`, 'is not an allowed property');
    if (typeof to !== 'string' || to.length === 0 || to.length > 320) throw at('.to', 'is required (a string of at most 320 characters)');
    const invalid = adapter.validateAddress?.(to);
    if (invalid) throw at('.to', invalid);
    const vars = checkVariables(variables, (field, reason) => at(`.variables${field}`, reason));
    for (const name of needed) if (vars?.[name] === undefined) throw at(`.variables.${name}`, 'is used by the content but missing');
    return vars ? { to, variables: vars } : { to };
  });
}

function checkVariables(value: unknown, at: (field: string, reason: string) => ApiError): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw at('', 'must be an object');
  const entries = Object.entries(value);
  if (entries.length > MAX_VARIABLES) throw at('', `at most ${MAX_VARIABLES} variables`);
  const vars: Record<string, string> = {};
  for (const [name, v] of entries) {
    if (!VARIABLE_NAME.test(name)) throw at(`.${name}`, 'is not a valid variable name (letters, digits, _ . -)');
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw at(`.${name}`, 'must be a string or number');
    const text = String(v);
    if (text.length > 1024) throw at(`.${name}`, 'is longer than 1024 characters');
    vars[name] = text;
  }
  return vars;
}

/** CSV with a header `to,<var1>,<var2>...`: each further column is a variable. */
function checkCsv(text: string, adapter: ChannelAdapter, needed: Set<string>): RecipientInput[] {
  let parsed: CsvRow[];
  try {
    parsed = parseCsv(text);
  } catch (err) {
    throw badRequest('body', (err as Error).message);
  }
  const [header, ...rows] = parsed;
  if (header?.fields[0]?.trim().toLowerCase() !== 'to') throw badRequest('body', 'the first CSV line must be a header starting with "to"');
  const names = header.fields.slice(1).map((n) => n.trim());
  const bad = names.find((n) => !VARIABLE_NAME.test(n));
  if (bad !== undefined) throw badRequest('body', `CSV header "${bad}" is not a valid variable name`);
  if (new Set(names).size !== names.length) throw badRequest('body', 'CSV header names a column twice');
  if (rows.length > MAX_RECIPIENTS_PER_CALL) throw badRequest('recipients', `at most ${MAX_RECIPIENTS_PER_CALL} per call; send the rest in further calls`);
  const list = rows.map((row, i) => {
    if (row.fields.length !== names.length + 1) {
      throw badRequest(`recipients[${i}]`, `CSV line ${row.line} has ${row.fields.length} fields, the header has ${names.length + 1}`);
    }
    const [to = '', ...values] = row.fields;
    return names.length > 0 ? { to: to.trim(), variables: Object.fromEntries(names.map((n, k) => [n, values[k] ?? ''])) } : { to: to.trim() };
  });
  return checkRecipients(
    list,
    adapter,
    needed,
    rows.map((r) => r.line),
  );
}

interface CsvRow {
  fields: string[];
  /** Line the record starts on (a quoted field may span lines). */
  line: number;
}

/** RFC 4180 (csv-parse): CRLF, LF or CR; quoted fields may hold commas, line breaks and "" for a quote. Blank lines are skipped. */
function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  // The line the next record starts on: csv-parse counts the line a record ends on, an error names where it starts.
  let line = 1;
  try {
    parse(text, {
      bom: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      on_record: (fields: string[]) => {
        if (fields.length > 1 || fields[0] !== '') rows.push({ fields, line });
        line += 1 + fields.reduce((n, f) => n + (f.match(/\r\n|\n|\r/g)?.length ?? 0), 0);
        return null;
      },
    });
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    throw new Error(err.code === 'CSV_QUOTE_NOT_CLOSED' ? `CSV line ${line}: a quoted field is not closed` : `CSV line ${line}: ${err.message}`, {
      cause: err,
    });
  }
  return rows;
}

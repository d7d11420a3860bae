import { describeErrorCode } from '../adapters/error-codes';
import { MESSAGE_STATUSES } from '../lifecycle';
import { orNotFound } from './api-client';
import { intFlag, str, timeFlag, UsageError, type Command } from './command';
import { fields, json, NONE, offset, shown, table } from './output';

/** GET /v1/messages/:id, as much of it as the CLI reads. */
export interface MessageView {
  id: string;
  channel_id: string;
  channel_type: string;
  direction: string;
  to: string;
  from: string | null;
  status: string;
  provider_message_id: string | null;
  error: { code: string; message: string | null } | null;
  workflow_id: string | null;
  trace_id: string | null;
  group_message_id: string | null;
  replays?: number;
  created_at: string;
  sending_at: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
  updated_at: string | null;
  links?: { temporal_ui: string | null };
}

export interface MessageEventView {
  kind: string;
  status: string;
  run: number;
  occurred_at: string;
  recorded_at: string;
  source: string;
  error_code: string | null;
  provider_time?: string | null;
}

interface MessageList {
  items: MessageView[];
  next_cursor: string | null;
  links?: { temporal_ui: string | null };
}

const errorLine = (code: string, channelType: string) => `${code} — ${describeErrorCode(code, channelType) ?? '(no description)'}`;

function showMessage(m: MessageView, events: MessageEventView[]): string {
  const timestamps = (['created', 'sending', 'sent', 'delivered', 'read', 'failed', 'updated'] as const)
    .map((k) => [k, m[`${k}_at`]] as const)
    .filter(([, v]) => v !== null);
  const head = fields([
    ['status', m.status],
    ['channel', `${m.channel_type} ${m.channel_id}`],
    ['to', m.to],
    ['from', m.from],
    ['provider id', m.provider_message_id],
    ['error', m.error ? errorLine(m.error.code, m.channel_type) : null],
    ...(m.error?.message ? [['', m.error.message] as const] : []),
    ['trace id', m.trace_id],
    ['group', m.group_message_id],
    ['replays', m.replays ?? NONE],
    ...timestamps,
    ['Web UI', m.links?.temporal_ui ?? null],
  ]);
  const runs = events.some((e) => e.run > 0 || e.kind !== 'status');
  const providerTimes = events.some((e) => e.provider_time);
  const first = events[0]?.occurred_at ?? m.created_at;
  const rows = events.map((e) => [
    e.occurred_at,
    offset(e.occurred_at, first),
    ...(runs ? [e.kind, String(e.run)] : []),
    e.status,
    e.source,
    shown(e.error_code),
    ...(providerTimes ? [shown(e.provider_time)] : []),
  ]);
  const history =
    events.length === 0
      ? '  (no events recorded)'
      : table(['OCCURRED AT', 'AFTER', ...(runs ? ['KIND', 'RUN'] : []), 'STATUS', 'SOURCE', 'ERROR', ...(providerTimes ? ['PROVIDER TIME'] : [])], rows, '  ');
  return `message ${m.id} (${m.direction})\n${head}\n\nstatus history\n${history}\n`;
}

export const messageShow: Command = {
  name: 'message show',
  args: '<id> [--json]',
  summary: "one message's story: its row, error code and meaning, status history and Web UI link",
  help: 'The row from GET /v1/messages/:id and its history from GET /v1/messages/:id/events.\n--json prints {"message": …, "events": […], "error_meaning": …}.',
  options: {},
  positionals: ['id'],
  api: true,
  async run({ positionals: [id = ''], values, io, api }) {
    const client = api();
    const [message, history] = await orNotFound(
      'message',
      id,
      Promise.all([
        client.get<MessageView>(`/v1/messages/${encodeURIComponent(id)}`),
        client.get<{ events: MessageEventView[] }>(`/v1/messages/${encodeURIComponent(id)}/events`),
      ]),
    );
    if (values.json) {
      const meaning = message.error ? (describeErrorCode(message.error.code, message.channel_type) ?? null) : null;
      io.stdout.write(json({ message, events: history.events, error_meaning: meaning }));
    } else {
      io.stdout.write(showMessage(message, history.events));
    }
    return 0;
  },
};

export const messagesList: Command = {
  name: 'messages list',
  args: '[--status <status>] [--channel <id>] [--group <id>] [--since <time>] [--until <time>] [--limit <n>] [--cursor <c>] [--json]',
  summary: "messages, newest first, filtered; prints the next page's cursor",
  help: [
    `--status is one of ${MESSAGE_STATUSES.join(', ')}; --since/--until take a date, a date-time or a time ago (90m, 2d).`,
    "--limit is 1 to 1000 (default 50). With --status failed, also the Web UI's view of the failed workflows.",
  ].join('\n'),
  options: {
    status: { type: 'string' },
    channel: { type: 'string' },
    group: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
  api: true,
  async run({ values, io, api }) {
    const status = str(values, 'status');
    if (status !== undefined && !(MESSAGE_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status must be one of ${MESSAGE_STATUSES.join(', ')}, not "${status}"`);
    }
    const page = await api().get<MessageList>('/v1/messages', {
      status,
      channel_id: str(values, 'channel'),
      group_message_id: str(values, 'group'),
      since: timeFlag(values, 'since'),
      until: timeFlag(values, 'until'),
      limit: intFlag(values, 'limit', 1, 1000),
      cursor: str(values, 'cursor'),
    });
    if (values.json) {
      io.stdout.write(json(page));
      return 0;
    }
    const rows = page.items.map((m) => [m.id, m.channel_type, m.to, m.status, shown(m.error?.code), m.created_at]);
    const lines = [page.items.length === 0 ? 'no messages match' : table(['ID', 'CHANNEL', 'TO', 'STATUS', 'ERROR', 'CREATED'], rows)];
    lines.push(page.next_cursor ? `next page: --cursor ${page.next_cursor}` : '(last page)');
    if (status === 'failed' && page.links?.temporal_ui) lines.push(`Web UI (failed workflows): ${page.links.temporal_ui}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

export const MESSAGE_COMMANDS: readonly Command[] = [messageShow, messagesList];

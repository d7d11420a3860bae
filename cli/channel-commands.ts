import { readFileSync } from 'node:fs';
import { CHANNEL_TYPES } from '../lifecycle';
import { ApiFailure, orNotFound } from './api-client';
import { intFlag, str, UsageError, type Command, type Values } from './command';
import { fields, json, shown, table } from './output';

/** GET /v1/channels/:id, as much of it as the CLI reads. */
export interface ChannelView {
  id: string;
  channel_type: string;
  provider: string;
  name: string;
  enabled: boolean;
  rate_limit_per_second: number;
  daily_limit: number | null;
  sandbox: boolean;
  webhook_url: string;
  created_at: string;
}

export const channelList: Command = {
  name: 'channel list',
  args: '[--type <channel_type>] [--page-size <n>] [--json]',
  summary: "the account's channels: id, type, provider, name, limits (every page)",
  help: '--page-size (1 to 200, default 100) is how many each request asks for; every page is listed.',
  options: { type: { type: 'string' }, 'page-size': { type: 'string' } },
  api: true,
  async run({ values, io, api }) {
    const type = channelType(values, false);
    const limit = intFlag(values, 'page-size', 1, 200) ?? 100;
    const client = api();
    const items: ChannelView[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await client.get<{ items: ChannelView[]; next_cursor: string | null }>('/v1/channels', { limit, cursor, channel_type: type });
      items.push(...page.items);
      cursor = page.next_cursor ?? undefined;
      if (cursor && seen.has(cursor)) throw new Error(`the API returned the cursor ${cursor} twice: stopping after ${items.length} channels`);
      if (cursor) seen.add(cursor);
    } while (cursor);
    if (values.json) {
      io.stdout.write(json({ items, next_cursor: null }));
      return 0;
    }
    const rows = items.map((c) => [
      c.id,
      c.channel_type,
      c.provider,
      c.name,
      c.enabled ? 'yes' : 'no',
      `${c.rate_limit_per_second}/s`,
      shown(c.daily_limit),
      c.created_at,
    ]);
    io.stdout.write(`${items.length === 0 ? 'no channels' : table(['ID', 'TYPE', 'PROVIDER', 'NAME', 'ENABLED', 'RATE', 'DAILY', 'CREATED'], rows)}\n`);
    return 0;
  },
};

export const channelCreate: Command = {
  name: 'channel create',
  args: '--type <channel_type> --name <name> [--provider <p>] [--rate-limit <n>] [--daily-limit <n>] [--sandbox]\n                 (--credential key=value … | --credentials-file <file.json>) [--json]',
  summary: 'create a channel; prints its id, webhook URL and webhook secret (shown once)',
  help: [
    `--type is one of ${CHANNEL_TYPES.join(', ')}. --credential may be repeated; --credentials-file is a JSON object`,
    'of strings, and keeps the secrets out of your shell history and the process list.',
  ].join('\n'),
  options: {
    type: { type: 'string' },
    name: { type: 'string' },
    provider: { type: 'string' },
    'rate-limit': { type: 'string' },
    'daily-limit': { type: 'string' },
    sandbox: { type: 'boolean' },
    credential: { type: 'string', multiple: true },
    'credentials-file': { type: 'string' },
  },
  api: true,
  async run({ values, io, api }) {
    const type = channelType(values, true);
    const name = str(values, 'name');
    if (!name) throw new UsageError('--name is required');
    const body = {
      channel_type: type,
      name,
      ...(str(values, 'provider') ? { provider: str(values, 'provider') } : {}),
      ...optional('rate_limit_per_second', intFlag(values, 'rate-limit', 1, 100_000)),
      ...optional('daily_limit', intFlag(values, 'daily-limit', 1, 100_000_000)),
      ...(values.sandbox ? { sandbox: true } : {}),
      credentials: credentials(values),
    };
    const created = await api().post<ChannelView & { webhook_secret: string }>('/v1/channels', body);
    if (values.json) {
      io.stdout.write(json(created));
      return 0;
    }
    io.stdout.write(
      [
        `channel ${created.id} created (${created.channel_type}/${created.provider}, "${created.name}")`,
        fields([
          ['webhook_url', created.webhook_url],
          ['webhook_secret', created.webhook_secret],
        ]),
        "The webhook secret is shown once, now: store it where the provider's callbacks are configured.",
        `A new one: POST /v1/channels/${created.id}/rotate-webhook-secret.`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};

export const channelVerify: Command = {
  name: 'channel verify',
  args: '<id> [--json]',
  summary: "check a channel's stored credentials with its provider: exit 0 when accepted, 1 (with the reason) when not",
  options: {},
  positionals: ['id'],
  api: true,
  async run({ positionals: [id = ''], values, io, api }) {
    let check: { id: string; ok: boolean; detail: string };
    try {
      check = await orNotFound('channel', id, api().post(`/v1/channels/${encodeURIComponent(id)}/verify`));
    } catch (err) {
      if (err instanceof ApiFailure && err.code === 'provider_unreachable')
        throw new Error(`channel ${id}: the provider could not be reached (${err.status} ${err.code})`);
      throw err;
    }
    if (values.json) io.stdout.write(json(check));
    else if (check.ok) io.stdout.write(`channel ${check.id}: credentials verified (${check.detail})\n`);
    if (!check.ok && !values.json) io.stderr.write(`error: channel ${check.id}: the provider refused the credentials: ${check.detail}\n`);
    return check.ok ? 0 : 1;
  },
};

export const CHANNEL_COMMANDS: readonly Command[] = [channelList, channelCreate, channelVerify];

function channelType(values: Values, required: boolean): string | undefined {
  const type = str(values, 'type');
  if (type === undefined) {
    if (required) throw new UsageError(`--type is required (one of ${CHANNEL_TYPES.join(', ')})`);
    return undefined;
  }
  if (!(CHANNEL_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${CHANNEL_TYPES.join(', ')}, not "${type}"`);
  return type;
}

const optional = <K extends string>(key: K, v: number | undefined) => (v === undefined ? {} : ({ [key]: v } as Record<K, number>));

/** --credential key=value … or --credentials-file: exactly one of them; values are never echoed. */
function credentials(values: Values): Record<string, string> {
  const pairs = Array.isArray(values.credential) ? values.credential : [];
  const file = str(values, 'credentials-file');
  if (pairs.length > 0 && file) throw new UsageError('give --credential key=value or --credentials-file, not both');
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(
        `--credentials-file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? 'not JSON' : (e.code ?? e.message)}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`--credentials-file ${file}: must be a JSON object of strings`);
    const bad = Object.entries(parsed).find(([, v]) => typeof v !== 'string');
    if (bad) throw new UsageError(`--credentials-file ${file}: "${bad[0]}" must be a string`);
    return parsed as Record<string, string>;
  }
  if (pairs.length === 0) throw new UsageError('credentials are required: --credential key=value (repeated) or --credentials-file <file.json>');
  const out: Record<string, string> = {};
  for (const [i, pair] of pairs.entries()) {
    const at = pair.indexOf('=');
    // Not echoed: without its `=`, the argument may be a bare secret.
    if (at <= 0) throw new UsageError(`--credential must be key=value: credential ${i + 1} of ${pairs.length} has ${at === 0 ? 'no key' : 'no ='}`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

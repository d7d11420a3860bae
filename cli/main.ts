import { parseArgs } from 'node:util';
import { loadConfigOrExit, requireKeys } from '../config';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { accountQuotaReport, setAccountQuotas } from '../db/quotas';
import { createAccount, createApiKey, listApiKeys, revokeApiKey, rotateChannelCredentials, type ApiKeyInfo } from '../db/repo';
import { isUuid } from '../db/uuidv7';
import { createLogger } from '../observability/logger';
import { runReplay } from './replay';

const USAGE = `usage:
  cli account create --name <name>     create an account and print its API key (shown once)
  cli account quota --account <id> [--messages-per-day <n>|default] [--recipients-per-group <n>|default]
                    [--channels <n>|default]
                                       set an account's own quotas (0: unlimited; default: the QUOTA_* setting)
                                       and print them as enforced, with today's message count
  cli key create --account <id> [--name <label>]
                                       issue another API key for an account
  cli key list --account <id>          an account's keys: id, name, prefix, created_at, revoked_at (never the key)
  cli key revoke --id <key id>         revoke a key: it is refused from its next request on
  cli credentials rotate               re-encrypt channel credentials under CREDENTIALS_KEY, bound to their channel
  cli replay --status failed|undelivered --since <date> [--until <date>] [--channel <id>]
             [--api-url <url>] [--api-key <key>]
                                       re-drive failed sends through the API, with a progress bar`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'replay') {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        status: { type: 'string', default: 'failed' },
        channel: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        'api-url': { type: 'string' },
        'api-key': { type: 'string' },
      },
      strict: true,
    });
    if (!values.since) throw new UsageError('--since is required');
    const result = await runReplay({
      status: values.status ?? 'failed',
      channel: values.channel,
      since: values.since,
      until: values.until,
      apiUrl: values['api-url'],
      apiKey: values['api-key'],
    });
    process.stdout.write(`${JSON.stringify({ event: 'replay_finished', ...result })}\n`);
    return 0;
  }
  const [group, action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      account: { type: 'string' },
      id: { type: 'string' },
      'messages-per-day': { type: 'string' },
      'recipients-per-group': { type: 'string' },
      channels: { type: 'string' },
    },
    strict: true,
  });
  const config = loadConfigOrExit();
  requireKeys(config, [['databaseUrl', 'DATABASE_URL']]);
  if (config.credentialsKey) useKeyring(Keyring.fromBase64(config.credentialsKey, config.credentialsKeyPrevious));
  const database = connect(config.databaseUrl ?? '', { max: 1 });
  try {
    if (group === 'account' && action === 'create') {
      if (!values.name) throw new UsageError('--name is required');
      const account = await createAccount(database.db, values.name);
      const key = await createApiKey(database.db, account.id);
      process.stdout.write(`${JSON.stringify({ account_id: account.id, name: account.name, api_key: key.key, key_prefix: key.prefix })}\n`);
      return 0;
    }
    if (group === 'account' && action === 'quota') {
      if (!values.account || !isUuid(values.account)) throw new UsageError('--account <id> is required');
      const quota = (flag: 'messages-per-day' | 'recipients-per-group' | 'channels'): number | null | undefined => {
        const v = values[flag];
        if (v === undefined) return undefined;
        if (v === 'default') return null;
        if (!/^\d{1,10}$/.test(v) || Number(v) > 2_000_000_000) throw new UsageError(`--${flag} must be an integer from 0 to 2000000000, or default`);
        return Number(v);
      };
      const overrides = { messagesPerDay: quota('messages-per-day'), recipientsPerGroup: quota('recipients-per-group'), channels: quota('channels') };
      if (!(await setAccountQuotas(database.db, values.account, overrides))) throw new UsageError(`no account ${values.account}`);
      const report = await accountQuotaReport(database.db, values.account, config.quotas);
      process.stdout.write(`${JSON.stringify({ account_id: values.account, quotas: report })}\n`);
      return 0;
    }
    if (group === 'credentials' && action === 'rotate') {
      requireKeys(config, [['credentialsKey', 'CREDENTIALS_KEY']]);
      const n = await rotateChannelCredentials(database.db);
      process.stdout.write(`${JSON.stringify({ event: 'credentials_rotated', channels: n })}\n`);
      return 0;
    }
    if (group === 'key' && action === 'create') {
      if (!values.account) throw new UsageError('--account is required');
      const key = await createApiKey(database.db, values.account, values.name);
      process.stdout.write(`${JSON.stringify({ account_id: values.account, id: key.id, api_key: key.key, key_prefix: key.prefix })}\n`);
      return 0;
    }
    if (group === 'key' && action === 'list') {
      if (!values.account || !isUuid(values.account)) throw new UsageError('--account <account id> is required');
      const keys = (await listApiKeys(database.db, values.account)).map(keyLine);
      process.stdout.write(`${JSON.stringify({ account_id: values.account, keys })}\n`);
      return 0;
    }
    if (group === 'key' && action === 'revoke') {
      if (!values.id || !isUuid(values.id)) throw new UsageError('--id <key id> is required (see `cli key list`)');
      const key = await revokeApiKey(database.db, values.id);
      if (!key) throw new Error(`no API key ${values.id}`);
      process.stdout.write(`${JSON.stringify({ event: 'api_key_revoked', account_id: key.accountId, ...keyLine(key) })}\n`);
      return 0;
    }
    throw new UsageError(`unknown command: ${[group, action].filter(Boolean).join(' ') || '(none)'}`);
  } finally {
    await database.close();
  }
}

class UsageError extends Error {}

const keyLine = (k: ApiKeyInfo) => ({ id: k.id, name: k.name, prefix: k.prefix, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null });

// stdout carries a command's result (one JSON line, e.g. a new API key shown once); log lines go
// to stderr as pino JSON, redacted like the API's and the worker's.
const log = createLogger({ name: 'cli', level: process.env.LOG_LEVEL ?? 'info', destination: process.stderr });

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError) process.stderr.write(`${message}\n${USAGE}\n`);
    else log.error({ event: 'cli_failed', command: process.argv.slice(2, 4).join(' '), err: message });
    process.exit(err instanceof UsageError ? 64 : 1);
  },
);

// Account, key, quota and credentials administration: these talk to the database directly
// (DATABASE_URL), as the operator who runs the deployment, not as an account. Their modules
// load only when one runs, so the API commands start without them.
import type { Config } from '../config';
import type { Database } from '../db/client';
import type * as ApiKeys from '../db/api-keys';
import type { ApiKeyInfo } from '../db/api-keys';
import { UsageError, type CliIo, type Command, type Values } from './command';

/** A bad command line exits 2, as for every other command. */
const EX_USAGE = 2;

async function withDatabase(needsCredentialsKey: boolean, fn: (database: Database, config: Config) => Promise<unknown>): Promise<unknown> {
  const { loadConfigOrExit, requireKeys } = await import('../config');
  const { connect } = await import('../db/client');
  const { Keyring, useKeyring } = await import('../db/credentials-crypto');
  const config = loadConfigOrExit();
  requireKeys(config, [['databaseUrl', 'DATABASE_URL']]);
  if (needsCredentialsKey) requireKeys(config, [['credentialsKey', 'CREDENTIALS_KEY']]);
  if (config.credentialsKey) useKeyring(Keyring.fromBase64(config.credentialsKey, config.credentialsKeyPrevious));
  const database = connect(config.databaseUrl ?? '', { max: 1 });
  try {
    return await fn(database, config);
  } finally {
    await database.close();
  }
}

/** Runs `fn` against the database and prints what it returns as one JSON line (a new API key is shown once). */
async function printFromDatabase(io: CliIo, needsCredentialsKey: boolean, fn: (database: Database, config: Config) => Promise<unknown>): Promise<number> {
  io.stdout.write(`${JSON.stringify(await withDatabase(needsCredentialsKey, fn))}\n`);
  return 0;
}

/** The key commands: the database and the module that keeps keys. */
const printFromApiKeys = (io: CliIo, fn: (keys: typeof ApiKeys, database: Database) => Promise<unknown>) =>
  printFromDatabase(io, false, async (database) => fn(await import('../db/api-keys'), database));

const usage = (message: string) => new UsageError(message, EX_USAGE);
const str = (values: Values, key: string) => (typeof values[key] === 'string' ? values[key] : undefined);

async function uuidFlag(values: Values, flag: string, what: string): Promise<string> {
  const { isUuid } = await import('../db/uuidv7');
  const v = str(values, flag);
  if (!v || !isUuid(v)) throw usage(`--${flag} <${what}> is required`);
  return v;
}

const keyLine = (k: ApiKeyInfo) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

const accountCreate: Command = {
  name: 'account create',
  args: '--name <name>',
  summary: 'create an account and print its API key (shown once)',
  options: { name: { type: 'string' } },
  async run({ values, io }) {
    const name = str(values, 'name');
    if (!name) throw usage('--name is required');
    return printFromApiKeys(io, async ({ createApiKey }, { db }) => {
      const { createAccount } = await import('../db/accounts');
      const account = await createAccount(db, name);
      const key = await createApiKey(db, account.id);
      return { account_id: account.id, name: account.name, api_key: key.key, key_prefix: key.prefix };
    });
  },
};

const accountQuota: Command = {
  name: 'account quota',
  args: '--account <id> [--messages-per-day <n>|default] [--recipients-per-group <n>|default] [--channels <n>|default]',
  summary: "set an account's own quotas (0: unlimited; default: the QUOTA_* setting) and print them as enforced, with today's message count",
  options: { account: { type: 'string' }, 'messages-per-day': { type: 'string' }, 'recipients-per-group': { type: 'string' }, channels: { type: 'string' } },
  async run({ values, io }) {
    const account = await uuidFlag(values, 'account', 'id');
    const quota = (flag: 'messages-per-day' | 'recipients-per-group' | 'channels'): number | null | undefined => {
      const v = str(values, flag);
      if (v === undefined) return undefined;
      if (v === 'default') return null;
      if (!/^\d{1,10}$/.test(v) || Number(v) > 2_000_000_000) throw usage(`--${flag} must be an integer from 0 to 2000000000, or default`);
      return Number(v);
    };
    const overrides = { messagesPerDay: quota('messages-per-day'), recipientsPerGroup: quota('recipients-per-group'), channels: quota('channels') };
    return printFromDatabase(io, false, async ({ db }, config) => {
      const { accountQuotaReport, setAccountQuotas } = await import('../db/quotas');
      if (!(await setAccountQuotas(db, account, overrides))) throw usage(`no account ${account}`);
      return { account_id: account, quotas: await accountQuotaReport(db, account, config.quotas) };
    });
  },
};

const keyCreate: Command = {
  name: 'key create',
  args: '--account <id> [--name <label>]',
  summary: 'issue another API key for an account (shown once)',
  options: { account: { type: 'string' }, name: { type: 'string' } },
  async run({ values, io }) {
    const account = str(values, 'account');
    if (!account) throw usage('--account is required');
    return printFromApiKeys(io, async ({ createApiKey }, { db }) => {
      const key = await createApiKey(db, account, str(values, 'name'));
      return { account_id: account, id: key.id, api_key: key.key, key_prefix: key.prefix };
    });
  },
};

const keyList: Command = {
  name: 'key list',
  args: '--account <id>',
  summary: "an account's keys: id, name, prefix, created_at, revoked_at (never the key)",
  options: { account: { type: 'string' } },
  async run({ values, io }) {
    const account = await uuidFlag(values, 'account', 'account id');
    return printFromApiKeys(io, async ({ listApiKeys }, { db }) => ({ account_id: account, keys: (await listApiKeys(db, account)).map(keyLine) }));
  },
};

const keyRevoke: Command = {
  name: 'key revoke',
  args: '--id <key id>',
  summary: 'revoke a key: it is refused from its next request on',
  options: { id: { type: 'string' } },
  async run({ values, io }) {
    const id = await uuidFlag(values, 'id', 'key id').catch(() => {
      throw usage('--id <key id> is required (see `cli key list`)');
    });
    return printFromApiKeys(io, async ({ revokeApiKey }, { db }) => {
      const key = await revokeApiKey(db, id);
      if (!key) throw new Error(`no API key ${id}`);
      return { event: 'api_key_revoked', account_id: key.accountId, ...keyLine(key) };
    });
  },
};

const credentialsRotate: Command = {
  name: 'credentials rotate',
  args: '',
  summary: 're-encrypt channel credentials under CREDENTIALS_KEY, bound to their channel',
  options: {},
  async run({ io }) {
    return printFromDatabase(io, true, async ({ db }) => {
      const { rotateChannelCredentials } = await import('../db/channels');
      return { event: 'credentials_rotated', channels: await rotateChannelCredentials(db) };
    });
  },
};

export const DB_COMMANDS: readonly Command[] = [accountCreate, accountQuota, keyCreate, keyList, keyRevoke, credentialsRotate];

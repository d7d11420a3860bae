import { parseArgs } from 'node:util';
import { loadConfigOrExit, requireKeys } from '../config';
import { connect } from '../db/client';
import { createAccount, createApiKey } from '../db/repo';

const USAGE = `usage:
  cli account create --name <name>     create an account and print its API key (shown once)
  cli key create --account <id>        issue another API key for an account`;

async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, account: { type: 'string' } }, strict: true });
  const config = loadConfigOrExit();
  requireKeys(config, [['databaseUrl', 'DATABASE_URL']]);
  const database = connect(config.databaseUrl ?? '', { max: 1 });
  try {
    if (group === 'account' && action === 'create') {
      if (!values.name) throw new UsageError('--name is required');
      const account = await createAccount(database.db, values.name);
      const key = await createApiKey(database.db, account.id);
      process.stdout.write(`${JSON.stringify({ account_id: account.id, name: account.name, api_key: key.key, key_prefix: key.prefix })}\n`);
      return 0;
    }
    if (group === 'key' && action === 'create') {
      if (!values.account) throw new UsageError('--account is required');
      const key = await createApiKey(database.db, values.account);
      process.stdout.write(`${JSON.stringify({ account_id: values.account, api_key: key.key, key_prefix: key.prefix })}\n`);
      return 0;
    }
    throw new UsageError(`unknown command: ${[group, action].filter(Boolean).join(' ') || '(none)'}`);
  } finally {
    await database.close();
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${err instanceof UsageError ? `${USAGE}\n` : ''}`);
    process.exit(err instanceof UsageError ? 64 : 1);
  },
);

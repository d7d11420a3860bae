// Runs the Jasmin HTTP API simulator by hand:
//   PORT=1401 USERS='[{"username":"foo","password":"bar"}]' DLR_RETRY_DELAY_MS=2000 npx tsx sandbox/jasmin/main.ts
import { startJasminSimulator, type JasminSimUser } from './server';

/** Used when USERS is unset: Jasmin's documentation's own example user. */
const DEV_USER: JasminSimUser = { username: 'foo', password: 'bar' };

function readUsers(raw: string | undefined): JasminSimUser[] {
  if (!raw) return [DEV_USER];
  const parsed: unknown = JSON.parse(raw);
  const valid =
    Array.isArray(parsed) &&
    parsed.every((u: Record<string, unknown>) => typeof u === 'object' && typeof u.username === 'string' && typeof u.password === 'string');
  if (!valid) throw new Error('USERS must be a JSON array of {username, password}');
  return parsed as JasminSimUser[];
}

function ms(name: string): number | undefined {
  const value = process.env[name];
  return value ? Number(value) : undefined;
}

async function main(): Promise<void> {
  const users = readUsers(process.env.USERS);
  const sim = await startJasminSimulator({
    port: Number(process.env.PORT ?? 1401),
    host: process.env.HOST ?? '127.0.0.1',
    users,
    dlrDelayMs: ms('DLR_DELAY_MS'),
    dlrRetryDelayMs: ms('DLR_RETRY_DELAY_MS'),
    log: (line) => console.log(line),
  });
  console.log(`jasmin simulator at ${sim.url}; users: ${users.map((u) => u.username).join(', ')}`);
  const stop = (): void => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

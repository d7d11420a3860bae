// Runs the Twilio simulator by hand:
//   PORT=4010 ACCOUNTS='[{"sid":"AC…","apiKey":"SK…","apiSecret":"…","authToken":"…"}]' npx tsx sandbox/twilio/main.ts
import { startTwilioSimulator, type TwilioSimAccount } from './server';

/** Used when ACCOUNTS is unset, so `tsx sandbox/twilio/main.ts` works with no setup. */
const DEV_ACCOUNT: TwilioSimAccount = {
  sid: `AC${'0'.repeat(32)}`,
  apiKey: `SK${'0'.repeat(32)}`,
  apiSecret: 'dev-api-secret',
  authToken: 'dev-auth-token',
};

function readAccounts(raw: string | undefined): TwilioSimAccount[] {
  if (!raw) return [DEV_ACCOUNT];
  const parsed: unknown = JSON.parse(raw);
  const valid =
    Array.isArray(parsed) &&
    parsed.every((a: Record<string, unknown>) => typeof a === 'object' && ['sid', 'apiKey', 'apiSecret', 'authToken'].every((k) => typeof a[k] === 'string'));
  if (!valid) throw new Error('ACCOUNTS must be a JSON array of {sid, apiKey, apiSecret, authToken}');
  return parsed as TwilioSimAccount[];
}

async function main(): Promise<void> {
  const accounts = readAccounts(process.env.ACCOUNTS);
  const sim = await startTwilioSimulator({
    port: Number(process.env.PORT ?? 4010),
    host: process.env.HOST ?? '127.0.0.1',
    accounts,
    callbackDelayMs: process.env.CALLBACK_DELAY_MS ? Number(process.env.CALLBACK_DELAY_MS) : undefined,
    log: (line) => console.log(line),
  });
  console.log(`twilio simulator at ${sim.url}; accounts: ${accounts.map((a) => a.sid).join(', ')}`);
  const stop = (): void => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

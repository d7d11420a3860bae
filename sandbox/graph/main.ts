// Runs the Graph API simulator by hand:
//   PORT=4020 APPS='[{"accessToken":"…","appSecret":"…","phoneNumberId":"…"}]' \
//   WEBHOOKS='{"whatsapp":{"<phone_number_id>":"http://…/webhooks/whatsapp/<channel>"}}' npx tsx sandbox/graph/main.ts
import { startGraphSimulator, type GraphSimApp, type GraphSimOptions } from './server';

/** Used when APPS is unset, so `tsx sandbox/graph/main.ts` works with no setup. */
const DEV_APPS: GraphSimApp[] = [
  { accessToken: 'dev-whatsapp-token', appSecret: 'dev-app-secret', phoneNumberId: '100000000000001', displayPhoneNumber: '15550100001' },
  { accessToken: 'dev-page-token', appSecret: 'dev-app-secret', pageId: '200000000000001', pageName: 'Dev Page' },
];

function readApps(raw: string | undefined): GraphSimApp[] {
  if (!raw) return DEV_APPS;
  const parsed: unknown = JSON.parse(raw);
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (a: Record<string, unknown>) =>
        typeof a === 'object' &&
        typeof a.accessToken === 'string' &&
        typeof a.appSecret === 'string' &&
        (typeof a.phoneNumberId === 'string' || typeof a.pageId === 'string'),
    );
  if (!valid) throw new Error('APPS must be a JSON array of {accessToken, appSecret, phoneNumberId? | pageId?}');
  return parsed as GraphSimApp[];
}

async function main(): Promise<void> {
  const apps = readApps(process.env.APPS);
  const sim = await startGraphSimulator({
    port: Number(process.env.PORT ?? 4020),
    host: process.env.HOST ?? '127.0.0.1',
    apps,
    callbackDelayMs: process.env.CALLBACK_DELAY_MS ? Number(process.env.CALLBACK_DELAY_MS) : undefined,
    webhookUrls: process.env.WEBHOOKS ? (JSON.parse(process.env.WEBHOOKS) as GraphSimOptions['webhookUrls']) : undefined,
    log: (line) => console.log(line),
  });
  console.log(
    `graph simulator at ${sim.url}; phone numbers: ${apps.flatMap((a) => a.phoneNumberId ?? []).join(', ') || '-'}; pages: ${apps.flatMap((a) => a.pageId ?? []).join(', ') || '-'}`,
  );
  const stop = (): void => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// What the WhatsApp and Messenger contract harnesses share: one Graph simulator app, our
// webhook receiver registered with it, and the parts of the harness that read the same for
// both channels (Meta signs both with the app secret in X-Hub-Signature-256).
import { randomUUID } from 'node:crypto';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import type { ChannelAdapter, Credentials } from '../../adapters/types';
import type { ContractHarness } from './contract-harness';
import { startWebhookReceiver, webhookRequest, withoutHeader, type WebhookReceiver } from './webhook-receiver';

type Shared = Pick<ContractHarness, 'adapter' | 'channel' | 'badCredentials' | 'secretKeys' | 'unreachable' | 'context' | 'close'> & {
  sim: GraphSimulator;
  receiver: WebhookReceiver;
  webhookUrl: string;
  /** A webhook call with this JSON body, unsigned. */
  json: (body: string) => ReturnType<typeof webhookRequest>;
  /** Another app's secret and the request without its signature header. */
  signature: Pick<ContractHarness['signature'], 'otherChannel' | 'strip'>;
  /** The body that is not JSON at all. */
  notJson: (body: string) => { what: string; request: ReturnType<typeof webhookRequest> };
};

export async function graphHarness(
  kind: 'whatsapp' | 'messenger',
  app: GraphSimApp,
  businessId: string,
  adapter: ChannelAdapter,
  /** The channel's own credentials; the app secret and the simulator's URL are added. */
  own: Credentials,
  /** Which of them is the access token: it and the app secret are the channel's secrets. */
  tokenKey: string,
): Promise<Shared> {
  const sim = await startGraphSimulator({ apps: [app], callbackDelayMs: 10 });
  const receiver = await startWebhookReceiver(adapter);
  const webhookUrl = `${receiver.url}/webhooks/${kind}/${randomUUID()}`;
  sim.setWebhook(kind, businessId, webhookUrl);
  const creds: Credentials = { ...own, app_secret: app.appSecret, base_url: sim.url };
  return {
    adapter,
    sim,
    receiver,
    webhookUrl,
    channel: { credentials: creds, webhookSecret: 'contract-verify-token' },
    badCredentials: { ...creds, [tokenKey]: 'a-token-graph-refuses' },
    secretKeys: [tokenKey, 'app_secret'],
    unreachable: (port) => ({ ...creds, base_url: `http://127.0.0.1:${port}` }),
    context: () => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: webhookUrl }),
    json: (body) => webhookRequest({ url: webhookUrl, headers: { 'content-type': 'application/json' }, body }),
    notJson: (body) => ({ what: 'not JSON', request: webhookRequest({ url: webhookUrl, headers: { 'content-type': 'text/plain' }, body }) }),
    signature: {
      otherChannel: { credentials: { ...creds, app_secret: 'another-apps-secret' }, webhookSecret: 'another-verify-token' },
      strip: (req) => withoutHeader(req, 'x-hub-signature-256'),
    },
    async close() {
      await sim.close();
      await receiver.close();
    },
  };
}

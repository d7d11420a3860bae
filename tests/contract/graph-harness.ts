// What the WhatsApp and Messenger contract harnesses share: one Graph simulator app, our
// webhook receiver registered with it, and the parts of the harness that read the same for
// both channels (Meta signs both with the app secret in X-Hub-Signature-256).
import { randomUUID } from 'node:crypto';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import type { ChannelAdapter, Credentials } from '../../adapters/types';
import type { ContractHarness } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { startWebhookReceiver, webhookRequest, withoutHeader, type WebhookReceiver } from './webhook-receiver';

type SharedKey = 'adapter' | 'channel' | 'badCredentials' | 'secretKeys' | 'unreachable' | 'context' | 'close';
type Shared = Pick<ContractHarness, SharedKey> & {
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

/** Each Graph channel's own credentials: its access token (a secret, with the app secret) and the id it sends as. */
const OWN = {
  whatsapp: (app: GraphSimApp) => ({ token: 'access_token', credentials: { access_token: app.accessToken, phone_number_id: app.phoneNumberId ?? '' } }),
  messenger: (app: GraphSimApp) => ({ token: 'page_access_token', credentials: { page_access_token: app.accessToken, page_id: app.pageId ?? '' } }),
};

/** The adapter contract over a Graph channel of this app; `rest` gives what is the channel's own. */
export function runGraphContract(
  kind: 'whatsapp' | 'messenger',
  app: GraphSimApp,
  adapter: ChannelAdapter,
  rest: (graph: Shared) => Omit<ContractHarness, SharedKey>,
): void {
  runAdapterContract(kind, async () => {
    const graph = await graphHarness(kind, app, adapter);
    return { ...graph, ...rest(graph) };
  });
}

async function graphHarness(kind: 'whatsapp' | 'messenger', app: GraphSimApp, adapter: ChannelAdapter): Promise<Shared> {
  const own = OWN[kind](app);
  const sim = await startGraphSimulator({ apps: [app], callbackDelayMs: 10 });
  const receiver = await startWebhookReceiver(adapter);
  const webhookUrl = `${receiver.url}/webhooks/${kind}/${randomUUID()}`;
  sim.setWebhook(kind, app.phoneNumberId ?? app.pageId ?? '', webhookUrl);
  const creds: Credentials = { ...own.credentials, app_secret: app.appSecret, base_url: sim.url };
  return {
    adapter,
    sim,
    receiver,
    webhookUrl,
    channel: { credentials: creds, webhookSecret: 'contract-verify-token' },
    badCredentials: { ...creds, [own.token]: 'a-token-graph-refuses' },
    secretKeys: [own.token, 'app_secret'],
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

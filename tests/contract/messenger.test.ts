import { randomUUID } from 'node:crypto';
import { startGraphSimulator, type GraphSimApp } from '../../sandbox/graph/server';
import { MessengerAdapter } from '../../adapters/messenger/messenger';
import type { Credentials, DispatchPayload } from '../../adapters/types';
import type { ContractHarness, SendCase } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { replaceInBody, startWebhookReceiver, webhookRequest, withoutHeader } from './webhook-receiver';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const APP: GraphSimApp = {
  accessToken: 'contract-page-token',
  appSecret: 'contract-messenger-app-secret',
  pageId: '104752838726392',
  pageName: 'Contract Bistro',
};
const CHANNEL_ID = randomUUID();

/** PSIDs the simulator scripts (sandbox/README.md). */
const TO: Record<SendCase, string> = {
  ok: '24012345678901234',
  permanent: '5550000551',
  transient: '5550000500',
  rateLimited: '5550000613',
};

type Event = { delivery?: { mids?: string[] }; message?: { mid?: string } };
function eventsOf(body: unknown): Event[] {
  const entries = (body as { entry?: Array<{ messaging?: Event[] }> } | undefined)?.entry ?? [];
  return entries.flatMap((e) => e.messaging ?? []);
}

runAdapterContract('messenger', async (): Promise<ContractHarness> => {
  const adapter = new MessengerAdapter(Date.now, LOOPBACK);
  const sim = await startGraphSimulator({ apps: [APP], callbackDelayMs: 10 });
  const receiver = await startWebhookReceiver(adapter);
  const webhookUrl = `${receiver.url}/webhooks/messenger/${CHANNEL_ID}`;
  sim.setWebhook('messenger', APP.pageId ?? '', webhookUrl);
  const credentials: Credentials = {
    page_access_token: APP.accessToken,
    app_secret: APP.appSecret,
    page_id: APP.pageId,
    base_url: sim.url,
  };
  const json = (body: string) => webhookRequest({ url: webhookUrl, headers: { 'content-type': 'application/json' }, body });

  return {
    adapter,
    channel: { credentials, webhookSecret: 'contract-verify-token' },
    badCredentials: { ...credentials, page_access_token: 'wrong-page-token' },
    secretKeys: ['page_access_token', 'app_secret'],
    unreachable: (port) => ({ ...credentials, base_url: `http://127.0.0.1:${port}` }),
    // No one has written to the page yet, so every send goes as MESSAGE_TAG, which passes outside the window.
    payload: (kind): DispatchPayload => ({
      messageId: randomUUID(),
      to: TO[kind],
      body: 'Your table for two is confirmed for 19:30.',
      metadata: { message_tag: 'CONFIRMED_EVENT_UPDATE' },
    }),
    context: () => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: webhookUrl }),
    requestsTo: (to) =>
      sim.requests.filter((r) => r.pathname.endsWith('/messages') && (r.body as { recipient?: { id?: string } } | undefined)?.recipient?.id === to).length,
    expected: {
      okStatus: 'queued',
      providerMessageId: /^m_[A-Za-z0-9_-]+$/,
      permanentCode: '551',
      transientCode: '2',
      networkCode: 'network',
      rateLimitedCode: '613',
      retryAfterMs: 2_000,
    },
    status: {
      expected: 'delivered',
      // Receipts name message ids (mids) and a watermark; our id does not come back.
      carriesMessageId: false,
      awaitWebhook: ({ result }) => receiver.waitFor((r) => eventsOf(r.body).some((e) => e.delivery?.mids?.includes(result.providerMessageId))),
    },
    inbound: {
      async simulate() {
        const psid = '24012345678901299';
        const text = 'Can I bring a dog? 🐕';
        const { id } = await sim.simulateInbound('messenger', psid, text);
        const request = await receiver.waitFor((r) => eventsOf(r.body).some((e) => e.message?.mid === id));
        return { request, expected: { providerMessageId: id, from: psid, to: APP.pageId ?? '', body: text } };
      },
    },
    signature: {
      otherChannel: { credentials: { ...credentials, app_secret: 'another-apps-secret' }, webhookSecret: 'another-verify-token' },
      tamper: (req) => replaceInBody(req, '"delivery":{', '"read":{'),
      strip: (req) => withoutHeader(req, 'x-hub-signature-256'),
    },
    malformed: [
      { what: 'not JSON', request: webhookRequest({ url: webhookUrl, headers: { 'content-type': 'text/plain' }, body: '<html>' }) },
      { what: 'another object', request: json('{"object":"whatsapp_business_account","entry":[]}') },
      { what: 'messaging is not a list', request: json(`{"object":"page","entry":[{"id":"${APP.pageId}","time":1,"messaging":"x"}]}`) },
      {
        what: 'a delivery without its watermark',
        request: json(
          `{"object":"page","entry":[{"id":"${APP.pageId}","time":1,"messaging":[{"sender":{"id":"2"},"recipient":{"id":"${APP.pageId}"},"delivery":{"mids":["m_1"]}}]}]}`,
        ),
      },
    ],
    async close() {
      await sim.close();
      await receiver.close();
    },
  };
});

import { randomUUID } from 'node:crypto';
import { startGraphSimulator, type GraphSimApp } from '../../sandbox/graph/server';
import type { Credentials, DispatchPayload } from '../../adapters/types';
import { WhatsAppAdapter } from '../../adapters/whatsapp/whatsapp';
import type { ContractHarness, SendCase } from './contract-harness';
import { runAdapterContract } from './contract-suite';
import { replaceInBody, startWebhookReceiver, webhookRequest, withoutHeader } from './webhook-receiver';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const APP: GraphSimApp = {
  accessToken: 'contract-whatsapp-token',
  appSecret: 'contract-whatsapp-app-secret',
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '15550100001',
};
const CHANNEL_ID = randomUUID();

/** Recipients the simulator scripts (sandbox/README.md). */
const TO: Record<SendCase, string> = {
  ok: '+16505550171',
  permanent: '+15550001026',
  transient: '+15550001500',
  rateLimited: '+15550001429',
};

/** A template goes outside the 24-hour window too, so the simulator follows it with sent → delivered → read. */
const TEMPLATE = { name: 'order_update', language: 'en_US', variables: { '1': 'Ada' } };

type Status = { id?: string; status?: string };
function statusesOf(body: unknown): Status[] {
  const entries = (body as { entry?: Array<{ changes?: Array<{ value?: { statuses?: Status[] } }> }> } | undefined)?.entry ?? [];
  return entries.flatMap((e) => e.changes ?? []).flatMap((c) => c.value?.statuses ?? []);
}

runAdapterContract('whatsapp', async (): Promise<ContractHarness> => {
  const adapter = new WhatsAppAdapter(Date.now, LOOPBACK);
  const sim = await startGraphSimulator({ apps: [APP], callbackDelayMs: 10 });
  const receiver = await startWebhookReceiver(adapter);
  const webhookUrl = `${receiver.url}/webhooks/whatsapp/${CHANNEL_ID}`;
  sim.setWebhook('whatsapp', APP.phoneNumberId ?? '', webhookUrl);
  const credentials: Credentials = {
    access_token: APP.accessToken,
    phone_number_id: APP.phoneNumberId,
    app_secret: APP.appSecret,
    base_url: sim.url,
  };
  const json = (body: string) => webhookRequest({ url: webhookUrl, headers: { 'content-type': 'application/json' }, body });

  return {
    adapter,
    channel: { credentials, webhookSecret: 'contract-verify-token' },
    badCredentials: { ...credentials, access_token: 'wrong-whatsapp-token' },
    secretKeys: ['access_token', 'app_secret'],
    unreachable: (port) => ({ ...credentials, base_url: `http://127.0.0.1:${port}` }),
    payload: (kind): DispatchPayload => ({ messageId: randomUUID(), to: TO[kind], template: TEMPLATE }),
    context: () => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: webhookUrl }),
    requestsTo: (to) =>
      sim.requests.filter((r) => r.pathname.endsWith('/messages') && (r.body as { to?: string } | undefined)?.to === to.replace(/^\+/, '')).length,
    expected: {
      okStatus: 'queued',
      providerMessageId: /^wamid\.[A-Za-z0-9+/=]+$/,
      permanentCode: '131026',
      transientCode: '131000',
      networkCode: 'network',
      rateLimitedCode: '130429',
      retryAfterMs: 2_000,
    },
    status: {
      expected: 'delivered',
      carriesMessageId: true,
      awaitWebhook: ({ result }) => receiver.waitFor((r) => statusesOf(r.body).some((s) => s.id === result.providerMessageId && s.status === 'delivered')),
    },
    inbound: {
      async simulate() {
        const from = '+16505550172';
        const text = 'Where is my order? 📦';
        const { id } = await sim.simulateInbound('whatsapp', from, text);
        const request = await receiver.waitFor((r) => r.rawBody.includes(id));
        return { request, expected: { providerMessageId: id, from, to: `+${APP.displayPhoneNumber}`, body: text } };
      },
    },
    signature: {
      otherChannel: { credentials: { ...credentials, app_secret: 'another-apps-secret' }, webhookSecret: 'another-verify-token' },
      tamper: (req) => replaceInBody(req, '"status":"delivered"', '"status":"read"'),
      strip: (req) => withoutHeader(req, 'x-hub-signature-256'),
    },
    malformed: [
      { what: 'not JSON', request: webhookRequest({ url: webhookUrl, headers: { 'content-type': 'text/plain' }, body: 'entry=1' }) },
      { what: 'another object', request: json('{"object":"page","entry":[]}') },
      { what: 'entry is not a list', request: json('{"object":"whatsapp_business_account","entry":{"id":"1"}}') },
      {
        what: 'a status without its id',
        request: json(
          `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"${APP.phoneNumberId}"},"statuses":[{"status":"delivered","timestamp":"1700000000"}]}}]}]}`,
        ),
      },
    ],
    async close() {
      await sim.close();
      await receiver.close();
    },
  };
});

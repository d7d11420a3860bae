import { randomUUID } from 'node:crypto';
import type { GraphSimApp } from '../../sandbox/graph/server';
import type { DispatchPayload } from '../../adapters/types';
import { WhatsAppAdapter } from '../../adapters/whatsapp/whatsapp';
import { LOOPBACK, scripted } from './contract-harness';
import { runGraphContract } from './graph-harness';
import { replaceInBody } from './webhook-receiver';

const APP: GraphSimApp = {
  accessToken: 'contract-whatsapp-token',
  appSecret: 'contract-whatsapp-app-secret',
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '15550100001',
};

/** A template goes outside the 24-hour window too, so the simulator follows it with sent → delivered → read. */
const TEMPLATE = { name: 'order_update', language: 'en_US', variables: { '1': 'Ada' } };

type Status = { id?: string; status?: string };
function statusesOf(body: unknown): Status[] {
  const entries = (body as { entry?: Array<{ changes?: Array<{ value?: { statuses?: Status[] } }> }> } | undefined)?.entry ?? [];
  return entries.flatMap((e) => e.changes ?? []).flatMap((c) => c.value?.statuses ?? []);
}

runGraphContract('whatsapp', APP, new WhatsAppAdapter(Date.now, LOOPBACK), ({ sim, receiver, json, signature, notJson }) => ({
  recipients: scripted('+16505550171', '+15550001026', '+15550001500', '+15550001429'),
  payload: (to): DispatchPayload => ({ messageId: randomUUID(), to, template: TEMPLATE }),
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
  signature: { ...signature, tamper: (req) => replaceInBody(req, '"status":"delivered"', '"status":"read"') },
  malformed: [
    notJson('entry=1'),
    { what: 'another object', request: json('{"object":"page","entry":[]}') },
    { what: 'entry is not a list', request: json('{"object":"whatsapp_business_account","entry":{"id":"1"}}') },
    {
      what: 'a status without its id',
      request: json(
        `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"${APP.phoneNumberId}"},"statuses":[{"status":"delivered","timestamp":"1700000000"}]}}]}]}`,
      ),
    },
  ],
}));

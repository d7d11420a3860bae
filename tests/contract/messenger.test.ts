import { randomUUID } from 'node:crypto';
import type { GraphSimApp } from '../../sandbox/graph/server';
import { MessengerAdapter } from '../../adapters/messenger/messenger';
import type { DispatchPayload } from '../../adapters/types';
import { LOOPBACK, scripted } from './contract-harness';
import { runGraphContract } from './graph-harness';
import { replaceInBody } from './webhook-receiver';

const APP: GraphSimApp = {
  accessToken: 'contract-page-token',
  appSecret: 'contract-messenger-app-secret',
  pageId: '104752838726392',
  pageName: 'Contract Bistro',
};

type Event = { delivery?: { mids?: string[] }; message?: { mid?: string } };
function eventsOf(body: unknown): Event[] {
  const entries = (body as { entry?: Array<{ messaging?: Event[] }> } | undefined)?.entry ?? [];
  return entries.flatMap((e) => e.messaging ?? []);
}

runGraphContract('messenger', APP, new MessengerAdapter(Date.now, LOOPBACK), ({ sim, receiver, json, signature, notJson }) => ({
  // No one has written to the page yet, so every send goes as MESSAGE_TAG, which passes outside the window.
  recipients: scripted('24012345678901234', '5550000551', '5550000500', '5550000613'),
  payload: (to): DispatchPayload => ({
    messageId: randomUUID(),
    to,
    body: 'Your table for two is confirmed for 19:30.',
    metadata: { message_tag: 'CONFIRMED_EVENT_UPDATE' },
  }),
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
  signature: { ...signature, tamper: (req) => replaceInBody(req, '"delivery":{', '"read":{') },
  malformed: [
    notJson('<html>'),
    { what: 'another object', request: json('{"object":"whatsapp_business_account","entry":[]}') },
    { what: 'messaging is not a list', request: json(`{"object":"page","entry":[{"id":"${APP.pageId}","time":1,"messaging":"x"}]}`) },
    {
      what: 'a delivery without its watermark',
      request: json(
        `{"object":"page","entry":[{"id":"${APP.pageId}","time":1,"messaging":[{"sender":{"id":"2"},"recipient":{"id":"${APP.pageId}"},"delivery":{"mids":["m_1"]}}]}]}`,
      ),
    },
  ],
}));

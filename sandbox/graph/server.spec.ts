import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MessengerAdapter } from '../../adapters/messenger/messenger';
import { PermanentSendError, RateLimitedError, TransientSendError, type Credentials, type WebhookRequest } from '../../adapters/types';
import { WhatsAppAdapter } from '../../adapters/whatsapp/whatsapp';
import { sendError } from '../../tests/support/send-error';
import { waitFor } from '../../tests/support/wait-for';
import { startStatusReceiver, type StatusReceiver } from '../../tests/support/webhook-listener';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from './server';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const WA_APP: GraphSimApp = { accessToken: 'sim-wa-token', appSecret: 'sim-wa-secret', phoneNumberId: '106540352242922', displayPhoneNumber: '15550100001' };
const PAGE_APP: GraphSimApp = { accessToken: 'sim-page-token', appSecret: 'sim-page-secret', pageId: '104752838726392', pageName: 'Sim Bistro' };

const whatsapp = new WhatsAppAdapter(Date.now, LOOPBACK);
const messenger = new MessengerAdapter(Date.now, LOOPBACK);
let sim: GraphSimulator;
let waHook: StatusReceiver;
let pageHook: StatusReceiver;
let waCreds: Credentials;
let pageCreds: Credentials;

beforeAll(async () => {
  sim = await startGraphSimulator({ apps: [WA_APP, PAGE_APP], callbackDelayMs: 10 });
  [waHook, pageHook] = await Promise.all([startStatusReceiver(), startStatusReceiver()]);
  sim.setWebhook('whatsapp', WA_APP.phoneNumberId ?? '', waHook.url);
  sim.setWebhook('messenger', PAGE_APP.pageId ?? '', pageHook.url);
  waCreds = { access_token: WA_APP.accessToken, phone_number_id: WA_APP.phoneNumberId, app_secret: WA_APP.appSecret, base_url: sim.url };
  pageCreds = { page_access_token: PAGE_APP.accessToken, app_secret: PAGE_APP.appSecret, page_id: PAGE_APP.pageId, base_url: sim.url };
});

afterAll(async () => {
  await sim.close();
  await Promise.all([waHook.close(), pageHook.close()]);
});

beforeEach(() => {
  sim.setMode({ error5xxRate: 0, rateLimitRate: 0, retryAfterSec: 1, timeoutRate: 0, permanentAll: false });
});

const ctx = () => ({ traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl: 'unused-by-meta' });
const template = { name: 'order_update', language: 'en_US', variables: { '1': 'Ada' } };

/** Status updates our adapter reads from the webhooks received for one of our messages. */
function waUpdates(messageId: string) {
  return waHook.received.flatMap((r) => whatsapp.parseStatusUpdates(r, waCreds)).filter((u) => u.messageId === messageId);
}

describe('WhatsApp round trip through the simulator', () => {
  it('sends a template and posts signed sent → delivered → read webhooks carrying our id', async () => {
    const messageId = randomUUID();
    const result = await whatsapp.send({ messageId, to: '+16505550101', template }, waCreds, ctx());

    expect(result.providerMessageId).toMatch(/^wamid\.[A-Za-z0-9+/=]+$/);
    await waitFor(() => waUpdates(messageId).length === 3);
    expect(waUpdates(messageId).map((u) => [u.status, u.providerMessageId])).toEqual([
      ['sent', result.providerMessageId],
      ['delivered', result.providerMessageId],
      ['read', result.providerMessageId],
    ]);
    const deliveries = waHook.received.filter((r) => whatsapp.parseStatusUpdates(r, waCreds)[0]?.messageId === messageId);
    for (const d of deliveries) expect(whatsapp.verifyWebhookSignature(d, WA_APP.appSecret)).toBe(true);
    expect(whatsapp.verifyWebhookSignature(deliveries[0] as WebhookRequest, 'wrong-secret')).toBe(false);
    expect(sim.sendCount(messageId)).toBe(1);
    const request = sim.requests.find((r) => (r.body as { biz_opaque_callback_data?: string } | undefined)?.biz_opaque_callback_data === messageId);
    expect(request?.headers.authorization).toBe(`Bearer ${WA_APP.accessToken}`);
    expect(request?.body).toMatchObject({ to: '16505550101', type: 'template' });
  });

  it('opens the window with a signed inbound message, after which free-form text is delivered', async () => {
    const inbound = await sim.simulateInbound('whatsapp', '+16505550102', 'Where is my order?');
    expect(inbound.httpStatus).toBe(200);
    const delivery = waHook.received.find((r) => whatsapp.parseInbound(r, waCreds)[0]?.providerMessageId === inbound.id);
    expect(delivery && whatsapp.verifyWebhookSignature(delivery, WA_APP.appSecret)).toBe(true);
    const [message] = whatsapp.parseInbound(delivery as WebhookRequest, waCreds);
    expect(message).toMatchObject({ from: '+16505550102', to: '+15550100001', body: 'Where is my order?' });

    const messageId = randomUUID();
    await whatsapp.send({ messageId, to: '+16505550102', body: 'On its way' }, waCreds, { ...ctx(), lastInboundAt: message?.receivedAt });
    await waitFor(() => waUpdates(messageId).some((u) => u.status === 'read'));
  });

  it('fails free-form text outside the window after accepting it, as Meta does (131047)', async () => {
    const messageId = randomUUID();
    // The adapter would refuse this itself; claiming a recent inbound makes it reach the simulator.
    await whatsapp.send({ messageId, to: '+16505550103', body: 'hello?' }, waCreds, { ...ctx(), lastInboundAt: new Date() });
    await waitFor(() => waUpdates(messageId).length === 1);
    expect(waUpdates(messageId)[0]).toMatchObject({ status: 'failed', errorCode: '131047' });
  });

  it('refuses 131026 permanently', async () => {
    const err = await sendError(whatsapp.send({ messageId: randomUUID(), to: '+15550001026', template }, waCreds, ctx()));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: '131026' });
  });

  it('answers 500 (131000) twice per message, then accepts once', async () => {
    const messageId = randomUUID();
    const send = () => whatsapp.send({ messageId, to: '+15550001500', template }, waCreds, ctx());
    expect(await sendError(send())).toBeInstanceOf(TransientSendError);
    expect(await sendError(send())).toMatchObject({ retryClass: 'transient', code: '131000' });
    await send();
    expect(sim.sendCount(messageId)).toBe(1);
  });

  it('rate-limits the first attempt with 130429 and Retry-After: 2', async () => {
    const messageId = randomUUID();
    const err = await sendError(whatsapp.send({ messageId, to: '+15550001429', template }, waCreds, ctx()));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: '130429', retryAfterMs: 2000 });
    await whatsapp.send({ messageId, to: '+15550001429', template }, waCreds, ctx());
  });

  it('hangs the first attempt for +15550001408 until the client gives up, then accepts', async () => {
    const messageId = randomUUID();
    const send = () => whatsapp.send({ messageId, to: '+15550001408', template }, { ...waCreds, timeout_ms: '200' }, ctx());
    expect(await sendError(send())).toMatchObject({ retryClass: 'transient', code: 'timeout' });
    await send();
    expect(sim.sendCount(messageId)).toBe(1);
  });

  it('fails +15550001047 after accepting it, and sends nothing for +15550001000', async () => {
    const failed = randomUUID();
    const silent = randomUUID();
    await whatsapp.send({ messageId: failed, to: '+15550001047', template }, waCreds, ctx());
    await whatsapp.send({ messageId: silent, to: '+15550001000', template }, waCreds, ctx());
    await waitFor(() => waUpdates(failed).length === 1);
    expect(waUpdates(failed)[0]).toMatchObject({ status: 'failed', errorCode: '131047', errorMessage: expect.stringContaining('24 hours') as unknown });
    await new Promise((r) => setTimeout(r, 100));
    expect(waUpdates(silent)).toEqual([]);
  });

  it('retries a webhook the receiver answers 500', async () => {
    waHook.answers.push(500, 503);
    const messageId = randomUUID();
    await whatsapp.send({ messageId, to: '+16505550104', template }, waCreds, ctx());
    await waitFor(() => waUpdates(messageId).length === 3);
    const sentAttempts = sim.webhooksSent.filter((w) => w.body.includes(messageId) && w.event === 'sent');
    expect(sentAttempts.map((w) => w.httpStatus)).toEqual([500, 503, 200]);
  });

  it('refuses a wrong token with 401 code 190, and a wrong appsecret_proof with code 100', async () => {
    expect(
      await sendError(whatsapp.send({ messageId: randomUUID(), to: '+16505550105', template }, { ...waCreds, access_token: 'nope' }, ctx())),
    ).toMatchObject({
      retryClass: 'permanent',
      code: '190',
    });
    expect(await sendError(whatsapp.send({ messageId: randomUUID(), to: '+16505550105', template }, { ...waCreds, app_secret: 'other' }, ctx()))).toMatchObject(
      {
        code: '100',
      },
    );
  });

  it('answers verifyCredentials', async () => {
    expect(await whatsapp.verifyCredentials(waCreds)).toEqual({ ok: true, detail: 'phone number +15550100001 (Simulated Business), quality GREEN' });
    expect(await whatsapp.verifyCredentials({ ...waCreds, phone_number_id: '1' })).toMatchObject({
      ok: false,
      detail: expect.stringContaining('(100/33)') as unknown,
    });
  });

  it('refuses every unscripted send under permanentAll', async () => {
    sim.setMode({ permanentAll: true });
    expect(await sendError(whatsapp.send({ messageId: randomUUID(), to: '+16505550106', template }, waCreds, ctx()))).toMatchObject({ code: '131026' });
  });
});

/** Receipts (webhook deliveries) about one person, and the status updates our adapter reads from them. */
function pageReceipts(psid: string) {
  return pageHook.received.filter((r) => messenger.parseStatusUpdates(r, pageCreds).some((u) => u.watermark?.recipient === psid));
}
function pageUpdates(psid: string) {
  return pageReceipts(psid).flatMap((r) => messenger.parseStatusUpdates(r, pageCreds));
}

describe('Messenger round trip through the simulator', () => {
  it('answers an inbound message with RESPONSE and posts signed delivery and read receipts', async () => {
    const psid = '24578916347200001';
    const inbound = await sim.simulateInbound('messenger', psid, 'Table for two?');
    const delivery = pageHook.received.find((r) => messenger.parseInbound(r, pageCreds)[0]?.providerMessageId === inbound.id);
    expect(delivery && messenger.verifyWebhookSignature(delivery, PAGE_APP.appSecret)).toBe(true);
    const [message] = messenger.parseInbound(delivery as WebhookRequest, pageCreds);
    expect(message).toMatchObject({ from: psid, to: PAGE_APP.pageId, body: 'Table for two?' });

    const before = Date.now();
    const sent = await messenger.send({ messageId: randomUUID(), to: psid, body: 'Yes, at 8' }, pageCreds, { ...ctx(), lastInboundAt: message?.receivedAt });
    expect(sent.providerMessageId).toMatch(/^m_/);
    await waitFor(() => pageUpdates(psid).some((u) => u.status === 'read'));

    for (const r of pageReceipts(psid)) expect(messenger.verifyWebhookSignature(r, PAGE_APP.appSecret)).toBe(true);
    const updates = pageUpdates(psid);
    expect(updates.map((u) => [u.status, u.providerMessageId])).toEqual([
      ['delivered', sent.providerMessageId],
      ['delivered', ''],
      ['read', ''],
    ]);
    // A watermark covers the message: it is taken after the send was accepted.
    for (const u of updates.filter((x) => x.watermark)) expect(u.watermark?.upTo.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('sends MESSAGE_TAG outside the window, and refuses RESPONSE there with 10/2018278', async () => {
    const psid = '24578916347200002';
    await messenger.send({ messageId: randomUUID(), to: psid, body: 'Order shipped', metadata: { message_tag: 'POST_PURCHASE_UPDATE' } }, pageCreds, ctx());
    // Claiming a recent inbound makes the adapter try RESPONSE; the simulator knows better.
    const err = await sendError(messenger.send({ messageId: randomUUID(), to: psid, body: 'hi' }, pageCreds, { ...ctx(), lastInboundAt: new Date() }));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: '10/2018278' });
  });

  it('scripts failures by PSID: 551 permanent, 500 twice, 613 with Retry-After', async () => {
    const tag = { message_tag: 'ACCOUNT_UPDATE' };
    expect(await sendError(messenger.send({ messageId: randomUUID(), to: '5550000551', body: 'x', metadata: tag }, pageCreds, ctx()))).toMatchObject({
      retryClass: 'permanent',
      code: '551',
    });
    const flaky = randomUUID();
    const sendFlaky = () => messenger.send({ messageId: flaky, to: '5550000500', body: 'x', metadata: tag }, pageCreds, ctx());
    expect(await sendError(sendFlaky())).toMatchObject({ retryClass: 'transient', code: '2' });
    expect(await sendError(sendFlaky())).toMatchObject({ retryClass: 'transient' });
    await sendFlaky();
    expect(sim.sendCount(flaky)).toBe(1);
    const limited = randomUUID();
    expect(await sendError(messenger.send({ messageId: limited, to: '5550000613', body: 'x', metadata: tag }, pageCreds, ctx()))).toMatchObject({
      retryClass: 'rate_limited',
      code: '613',
      retryAfterMs: 2000,
    });
  });

  it('sends a watermark-only delivery for 5550000001', async () => {
    await messenger.send({ messageId: randomUUID(), to: '5550000001', body: 'x', metadata: { message_tag: 'ACCOUNT_UPDATE' } }, pageCreds, ctx());
    await waitFor(() => pageUpdates('5550000001').some((u) => u.status === 'read'));
    expect(pageUpdates('5550000001').map((u) => [u.status, u.providerMessageId])).toEqual([
      ['delivered', ''],
      ['read', ''],
    ]);
  });

  it('answers verifyCredentials with the page behind the token', async () => {
    expect(await messenger.verifyCredentials(pageCreds)).toEqual({ ok: true, detail: `page Sim Bistro (${PAGE_APP.pageId})` });
    expect(await messenger.verifyCredentials({ ...pageCreds, page_access_token: 'nope' })).toEqual({ ok: false, detail: 'authentication failed (190)' });
  });

  it('takes the token as an access_token parameter too, as Meta documents', async () => {
    const res = await fetch(`${sim.url}/v25.0/me/messages?access_token=${PAGE_APP.accessToken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ recipient: { id: '24578916347200003' }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', message: { text: 'hi' } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ recipient_id: '24578916347200003', message_id: expect.stringMatching(/^m_/) as unknown });
  });
});

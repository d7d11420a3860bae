import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import { eventually, startStack, type TestStack } from '../support/stack';

const APP: GraphSimApp = { accessToken: 'e2e-page-token', appSecret: 'e2e-page-app-secret', pageId: '104752838726392', pageName: 'E2E Bistro' };

describe('Messenger through the whole engine (Temporal + Postgres + Graph simulator)', () => {
  let stack: TestStack;
  let sim: GraphSimulator;
  let channel: { id: string; webhook_url: string; webhook_secret: string };

  beforeAll(async () => {
    stack = await startStack();
    // Receipts a few hundred ms apart, like Messenger's: a watermark is taken after our send is recorded.
    sim = await startGraphSimulator({ apps: [APP], callbackDelayMs: 300 });
    channel = await stack.createChannel({
      channel_type: 'messenger',
      name: 'sandbox messenger',
      credentials: { page_access_token: APP.accessToken, app_secret: APP.appSecret, page_id: APP.pageId ?? '', base_url: sim.url },
    });
    sim.setWebhook('messenger', APP.pageId ?? '', channel.webhook_url);
  });
  afterAll(async () => {
    await sim?.close();
    await stack?.close();
  });

  const send = async (to: string, content: Record<string, unknown>) => {
    const accepted = await stack.sendMessage({ channel_id: channel.id, to, ...content });
    expect(accepted.status).toBe(202);
    return accepted.body.id ?? '';
  };
  /** What reached the simulator for one of our messages (message.metadata carries our id). */
  const sendsFor = (id: string) =>
    sim.requests.filter((r) => r.pathname.endsWith('/messages') && (r.body as { message?: { metadata?: string } } | undefined)?.message?.metadata === id);
  const waitForDelivered = (id: string) =>
    eventually(async () => {
      const m = (await stack.getMessage(id)).body;
      return m.status === 'delivered' || m.status === 'read' ? m : undefined;
    });
  const tagged = (text: string) => ({ body: text, metadata: { message_tag: 'POST_PURCHASE_UPDATE' } });
  const signed = (body: string) => ({
    'content-type': 'application/json',
    'x-hub-signature-256': `sha256=${createHmac('sha256', APP.appSecret).update(body).digest('hex')}`,
  });

  it('answers inside the window with RESPONSE; delivery and read receipts move the row to read', async () => {
    const psid = '24578916347201001';
    expect((await sim.simulateInbound('messenger', psid, 'Do you have a table for two?')).httpStatus).toBe(200);

    const id = await send(psid, { body: 'Yes — see you at 8.' });

    const read = await stack.waitForStatus(id, 'read');
    expect(read.provider_message_id).toMatch(/^m_/);
    expect(read.delivered_at).not.toBeNull();
    expect(sendsFor(id)[0]?.body).toEqual({ recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'Yes — see you at 8.', metadata: id } });
    expect(sendsFor(id)[0]?.headers.authorization).toBe(`Bearer ${APP.accessToken}`);
  });

  it('sends outside the window with MESSAGE_TAG from metadata.message_tag', async () => {
    const psid = '24578916347201002';
    const id = await send(psid, tagged('Your order has shipped.'));

    await stack.waitForStatus(id, 'read');
    expect(sendsFor(id)[0]?.body).toEqual({
      recipient: { id: psid },
      messaging_type: 'MESSAGE_TAG',
      tag: 'POST_PURCHASE_UPDATE',
      message: { text: 'Your order has shipped.', metadata: id },
    });
  });

  it('neither inside the window nor tagged: failed with messenger_window_closed, Meta never called', async () => {
    const id = await send('24578916347201003', { body: 'Hello?' });
    const failed = await stack.waitForStatus(id, 'failed');
    expect(failed.error?.code).toBe('messenger_window_closed');
    expect(sendsFor(id)).toHaveLength(0);
    expect((await stack.temporal.workflow.getHandle(`message-${id}`).describe()).status.name).toBe('FAILED');
  });

  it("the simulator's watermark-only receipts (old clients, no mids) still deliver and read the message", async () => {
    const id = await send('5550000001', tagged('Order confirmed.'));
    const read = await stack.waitForStatus(id, 'read');
    expect(read.delivered_at).not.toBeNull();
    expect(read.read_at).not.toBeNull();
  });

  it('a watermark moves every message sent to that person up to it, and none sent after', async () => {
    const psid = '5550000000'; // the simulator sends no receipts for this PSID: the test posts them
    const before = [await send(psid, tagged('One')), await send(psid, tagged('Two'))];
    for (const id of before) await stack.waitForStatus(id, 'sent');
    await new Promise((r) => setTimeout(r, 20));
    const watermark = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const after = await send(psid, tagged('Three'));
    await stack.waitForStatus(after, 'sent');

    const receipt = (event: Record<string, unknown>) =>
      JSON.stringify({
        object: 'page',
        entry: [{ id: APP.pageId, time: Date.now(), messaging: [{ sender: { id: psid }, recipient: { id: APP.pageId }, ...event }] }],
      });
    const delivery = receipt({ delivery: { watermark } });
    expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(delivery), body: delivery })).status).toBe(200);
    for (const id of before) await waitForDelivered(id);
    const reads = receipt({ timestamp: Date.now(), read: { watermark } });
    expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(reads), body: reads })).status).toBe(200);
    for (const id of before) await stack.waitForStatus(id, 'read');

    await new Promise((r) => setTimeout(r, 300));
    expect((await stack.getMessage(after)).body.status).toBe('sent');
  });

  it('a permanent provider error (551) fails the message without retries', async () => {
    const id = await send('5550000551', tagged('x'));
    const failed = await stack.waitForStatus(id, 'failed');
    expect(failed.error?.code).toBe('551');
    expect(sendsFor(id)).toHaveLength(1);
  });

  it('retries a 500 and ends delivered, accepted once', async () => {
    const id = await send('5550000500', tagged('Your receipt'));
    await waitForDelivered(id);
    expect(sendsFor(id)).toHaveLength(3);
    expect(sim.sendCount(id)).toBe(1);
  });

  describe('bad webhooks', () => {
    const readReceipt = (psid: string, pageId = APP.pageId) =>
      JSON.stringify({
        object: 'page',
        entry: [
          {
            id: pageId,
            time: Date.now(),
            messaging: [{ sender: { id: psid }, recipient: { id: pageId }, timestamp: Date.now(), read: { watermark: Date.now() } }],
          },
        ],
      });

    it('a receipt signed with the app secret but for another page changes nothing on this channel (answered 200, as Meta expects)', async () => {
      // One app secret signs the events of every page the app serves.
      const psid = '5550000000'; // the simulator sends no receipts for this PSID
      const id = await send(psid, tagged('Not for the other page'));
      await stack.waitForStatus(id, 'sent');
      const otherPage = readReceipt(psid, '998877665544332');
      expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(otherPage), body: otherPage })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect((await stack.getMessage(id)).body).toMatchObject({ status: 'sent', delivered_at: null, read_at: null });

      const own = readReceipt(psid);
      expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(own), body: own })).status).toBe(200);
      await stack.waitForStatus(id, 'read');
    });

    it('a Messenger channel cannot be created without page_id (400 naming credentials.page_id)', async () => {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/channels',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: {
          channel_type: 'messenger',
          name: 'no page',
          credentials: { page_access_token: APP.accessToken, app_secret: APP.appSecret, base_url: sim.url },
        },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'validation_failed', field: 'credentials.page_id' });
    });

    it('refuses unsigned and forged webhooks with 401 and changes nothing', async () => {
      const psid = '5550000000'; // the simulator sends no receipts for this PSID
      const id = await send(psid, tagged('Quiet one'));
      await stack.waitForStatus(id, 'sent');
      const body = readReceipt(psid);

      expect((await fetch(channel.webhook_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
      const forged = `sha256=${createHmac('sha256', 'not-the-app-secret').update(body).digest('hex')}`;
      expect(
        (await fetch(channel.webhook_url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': forged }, body })).status,
      ).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
      expect((await stack.getMessage(id)).body.status).toBe('sent');

      // Signed with the app secret, the same receipt is applied through the watermark.
      expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(body), body })).status).toBe(200);
      await stack.waitForStatus(id, 'read');
    });

    it('answers 400 to malformed JSON and to signed JSON that is not a page envelope', async () => {
      const broken = '{"object":"page","entry":[{';
      expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(broken), body: broken })).status).toBe(400);
      const foreign = JSON.stringify({ object: 'whatsapp_business_account', entry: [] });
      expect((await fetch(channel.webhook_url, { method: 'POST', headers: signed(foreign), body: foreign })).status).toBe(400);
    });
  });
});

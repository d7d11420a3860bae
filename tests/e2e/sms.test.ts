import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { startStack, type TestStack } from '../support/stack';

describe('SMS through the whole engine (Temporal + Postgres + Twilio simulator)', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack();
    channelId = await stack.createSmsChannel();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const send = (to: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    stack.sendMessage({ channel_id: channelId, to, body: 'Your code is 123456', ...extra }, headers);
  const get = (id: string, key?: string) => stack.getMessage(id, key);
  const waitForStatus = (id: string, status: string) => stack.waitForStatus(id, status);
  const requestsFor = (id: string) => stack.twilio.requests.filter((r) => (r.form.StatusCallback ?? '').includes(id));

  it('accepts, sends, receives signed callbacks and ends delivered with search attributes set', async () => {
    const accepted = await send('+15551234567', {}, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'queued', workflow_id: `message-${accepted.body.id}`, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });

    const delivered = await waitForStatus(accepted.body.id ?? '', 'delivered');
    expect(delivered.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/);
    expect(delivered.sent_at).not.toBeNull();
    expect(delivered.delivered_at).not.toBeNull();

    const [req] = requestsFor(accepted.body.id ?? '');
    expect(req?.form).toMatchObject({ To: '+15551234567', From: '+15017122661', Body: 'Your code is 123456' });
    expect(req?.form.StatusCallback).toMatch(new RegExp(`^${stack.apiUrl}/webhooks/sms/${channelId}\\?message_id=${accepted.body.id}&token=[\\w-]{43}$`));
    expect(req?.headers['x-trace-id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');

    const handle = stack.temporal.workflow.getHandle(`message-${accepted.body.id}`);
    expect(await handle.result()).toMatchObject({ status: 'delivered', providerMessageId: delivered.provider_message_id });
    const desc = await handle.describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.messageStatus)).toBe('delivered');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.channelType)).toBe('sms');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.channelId)).toBe(channelId);
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.accountId)).toBe(stack.accountId);
    expect(await desc.staticSummary()).toBe('sms to +155***67');
  });

  it('a permanent provider error fails the message with the provider code, without retries', async () => {
    const accepted = await send('+15005550001');
    expect(accepted.status).toBe(202);
    const failed = await waitForStatus(accepted.body.id ?? '', 'failed');
    expect(failed.error?.code).toBe('21211');
    const handle = stack.temporal.workflow.getHandle(`message-${accepted.body.id}`);
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect(requestsFor(accepted.body.id ?? '')).toHaveLength(1);
  });

  it('retries a 5xx and ends delivered', async () => {
    const accepted = await send('+15005550500');
    await waitForStatus(accepted.body.id ?? '', 'delivered');
    expect(requestsFor(accepted.body.id ?? '')).toHaveLength(3);
    expect(stack.twilio.sendCount(requestsFor(accepted.body.id ?? '')[2]?.form.StatusCallback ?? '')).toBe(1);
  });

  it('honours Retry-After on a 429', async () => {
    const accepted = await send('+15005550429');
    await waitForStatus(accepted.body.id ?? '', 'delivered');
    const reqs = requestsFor(accepted.body.id ?? '');
    expect(reqs).toHaveLength(2);
    expect((reqs[1]?.at ?? 0) - (reqs[0]?.at ?? 0)).toBeGreaterThanOrEqual(1900);
  });

  describe('bad input', () => {
    it('rejects an invalid E.164 number naming `to`', async () => {
      const r = await send('0712345678');
      expect(r.status).toBe(400);
      expect(r.body.field).toBe('to');
    });

    it('rejects a missing channel_id and unknown fields with the field named', async () => {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: { to: '+15551234567', body: 'x' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ field: 'channel_id' });
      const extra = await stack.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: { channel_id: channelId, to: '+15551234567', body: 'x', bogus: 1 },
      });
      expect(extra.statusCode).toBe(400);
      expect(extra.json()).toMatchObject({ field: 'bogus' });
    });

    it('answers 404 for an unknown channel', async () => {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: { channel_id: '01930000-0000-7000-8000-000000000000', to: '+15551234567', body: 'x' },
      });
      expect(res.statusCode).toBe(404);
    });

    it('answers 401 without or with a wrong API key', async () => {
      const none = await stack.app.inject({ method: 'GET', url: '/v1/messages/x' });
      expect(none.statusCode).toBe(401);
      const wrong = await stack.app.inject({
        method: 'GET',
        url: '/v1/messages/x',
        headers: { authorization: `Bearer tdk_000000000000_${'a'.repeat(32)}` },
      });
      expect(wrong.statusCode).toBe(401);
    });

    it("answers 404 for another account's message and channel", async () => {
      const accepted = await send('+15551230000');
      const other = await stack.newAccount('other');
      expect((await get(accepted.body.id ?? '', other.apiKey)).status).toBe(404);
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { authorization: `Bearer ${other.apiKey}` },
        payload: { channel_id: channelId, to: '+15551234567', body: 'x' },
      });
      expect(res.statusCode).toBe(404);
    });

    it('lets only a sandbox channel turn the webhook signature check off', async () => {
      const creds = stack.twilioCredentials;
      const refused = await stack.app.inject({
        method: 'POST',
        url: '/v1/channels',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: { channel_type: 'sms', provider: 'twilio', name: 'prod', credentials: creds, webhook_signature: 'disabled' },
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ field: 'webhook_signature' });
      const sandbox = await stack.createChannel({
        channel_type: 'sms',
        provider: 'twilio',
        name: 'sbx',
        credentials: creds,
        sandbox: true,
        webhook_signature: 'disabled',
      });
      const r = await stack.sendMessage({ channel_id: sandbox.id, to: '+15005550605', body: 'x' });
      const sent = await waitForStatus(r.body.id ?? '', 'sent');
      const cb = stack.twilio.requests.find((q) => (q.form.StatusCallback ?? '').includes(sent.id))?.form.StatusCallback ?? '';
      const u = new URL(cb);
      const unsigned = await stack.app.inject({
        method: 'POST',
        url: u.pathname + u.search,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          MessageSid: sent.provider_message_id ?? '',
          MessageStatus: 'delivered',
          AccountSid: stack.twilioAccount.sid,
          From: '+1',
          To: '+15005550605',
        }).toString(),
      });
      expect(unsigned.statusCode).toBe(204);
      await waitForStatus(sent.id, 'delivered');
    });

    it('refuses unsigned and mis-signed webhooks and changes nothing', async () => {
      const accepted = await send('+15005550605'); // the simulator sends no callbacks for this number
      const id = accepted.body.id ?? '';
      const sent = await waitForStatus(id, 'sent');
      const form = new URLSearchParams({
        MessageSid: sent.provider_message_id ?? '',
        MessageStatus: 'delivered',
        AccountSid: stack.twilioAccount.sid,
        From: '+15017122661',
        To: '+15005550605',
      }).toString();
      const url = new URL(requestsFor(id)[0]?.form.StatusCallback ?? '').pathname + new URL(requestsFor(id)[0]?.form.StatusCallback ?? '').search;
      const unsigned = await stack.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form });
      expect(unsigned.statusCode).toBe(401);
      const forged = await stack.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' },
        payload: form,
      });
      expect(forged.statusCode).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
      expect((await get(id)).body.status).toBe('sent');
    });
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TwilioSmsAdapter } from '../../adapters/sms/twilio';
import { PermanentSendError, RateLimitedError, TransientSendError, type Credentials, type StatusUpdate, type WebhookRequest } from '../../adapters/types';
import { sendError } from '../../tests/support/send-error';
import { waitFor } from '../../tests/support/wait-for';
import { startStatusReceiver, type StatusReceiver } from '../../tests/support/webhook-listener';
import { startTwilioSimulator, type TwilioSimAccount, type TwilioSimulator } from './server';
import { EgressPolicy } from '../../adapters/egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const ACCOUNT: TwilioSimAccount = {
  sid: 'AC11111111111111111111111111111111',
  apiKey: 'SK22222222222222222222222222222222',
  apiSecret: 'sim-api-secret',
  authToken: 'sim-auth-token',
};
const FROM = '+15005550006';

const adapter = new TwilioSmsAdapter(LOOPBACK);
let sim: TwilioSimulator;
let receiver: StatusReceiver;
let creds: Credentials;

beforeAll(async () => {
  sim = await startTwilioSimulator({ accounts: [ACCOUNT], callbackDelayMs: 10 });
  receiver = await startStatusReceiver();
  creds = {
    account_sid: ACCOUNT.sid,
    api_key: ACCOUNT.apiKey,
    api_secret: ACCOUNT.apiSecret,
    auth_token: ACCOUNT.authToken,
    from: FROM,
    base_url: sim.url,
  };
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

beforeEach(() => {
  sim.setMode({ error5xxRate: 0, timeoutRate: 0, rateLimitRate: 0, retryAfterSec: 1, permanentAll: false });
});

/** A fresh message of ours: its own id, callback URL and trace id. */
function message(to: string, body = 'Your code is 4821') {
  const id = randomUUID();
  const statusCallbackUrl = `${receiver.url}/webhooks/sms/ch_test?message_id=${id}`;
  return {
    id,
    statusCallbackUrl,
    payload: { messageId: id, to, body },
    ctx: { traceId: randomUUID().replace(/-/g, ''), statusCallbackUrl },
    callbacks: () => receiver.received.filter((r) => r.query.message_id === id),
    updates: (): StatusUpdate[] => receiver.received.filter((r) => r.query.message_id === id).flatMap((r) => adapter.parseStatusUpdates(r)),
  };
}

describe('Twilio simulator round trip with the real adapter', () => {
  it('accepts a send and posts signed queued → sent → delivered callbacks that the adapter verifies', async () => {
    const m = message('+14155550100');

    const result = await adapter.send(m.payload, creds, m.ctx);

    expect(result.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(result.status).toBe('queued');
    expect(sim.sendCount(m.statusCallbackUrl)).toBe(1);
    const request = sim.requests.find((r) => r.form.StatusCallback === m.statusCallbackUrl);
    expect(request).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT.sid}/Messages.json`,
      form: { To: '+14155550100', From: FROM, Body: 'Your code is 4821', StatusCallback: m.statusCallbackUrl },
    });
    expect(request?.headers['x-trace-id']).toBe(m.ctx.traceId);

    await waitFor(() => m.callbacks().length === 3);
    for (const callback of m.callbacks()) {
      expect(callback.headers['x-twilio-signature']).toMatch(/^[A-Za-z0-9+/]{27}=$/);
      expect(adapter.verifyWebhookSignature(callback, ACCOUNT.authToken)).toBe(true);
      expect(adapter.verifyWebhookSignature(callback, 'some-other-token')).toBe(false);
      expect(adapter.parseInbound(callback)).toEqual([]);
    }
    expect(m.updates().map((u) => [u.status, u.providerMessageId, u.messageId])).toEqual([
      ['queued', result.providerMessageId, m.id],
      ['sent', result.providerMessageId, m.id],
      ['delivered', result.providerMessageId, m.id],
    ]);
    expect(m.callbacks()[2]?.body).toMatchObject({
      AccountSid: ACCOUNT.sid,
      ApiVersion: '2010-04-01',
      From: FROM,
      To: '+14155550100',
      MessageStatus: 'delivered',
      SmsStatus: 'delivered',
      SmsSid: result.providerMessageId,
    });
    expect((m.callbacks()[2]?.body as Record<string, string>).RawDlrDoneDate).toMatch(/^\d{10}$/);
  });

  it('rejects a callback whose body was tampered with', async () => {
    const m = message('+14155550101');
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 3);

    const delivered = m.callbacks()[2] as WebhookRequest;
    const forged = Buffer.from(delivered.rawBody.toString('utf8').replace('delivered', 'undelivered'));
    expect(adapter.verifyWebhookSignature({ ...delivered, rawBody: forged }, ACCOUNT.authToken)).toBe(false);
  });

  it('serves the message resource with its latest status', async () => {
    const m = message('+14155550102');
    const { providerMessageId } = await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 3);

    const res = await fetch(`${sim.url}/2010-04-01/Accounts/${ACCOUNT.sid}/Messages/${providerMessageId}.json`, {
      headers: { Authorization: `Basic ${Buffer.from(`${ACCOUNT.sid}:${ACCOUNT.authToken}`).toString('base64')}` },
    });
    const body = (await res.json()) as Record<string, unknown>;

    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      sid: providerMessageId,
      account_sid: ACCOUNT.sid,
      status: 'delivered',
      direction: 'outbound-api',
      num_segments: '1',
      price: null,
      error_code: null,
      uri: `/2010-04-01/Accounts/${ACCOUNT.sid}/Messages/${providerMessageId}.json`,
    });
    expect(body.date_created).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('verifies credentials, and refuses a wrong secret with Twilio 20003', async () => {
    expect(await adapter.verifyCredentials(creds)).toEqual({ ok: true, detail: `account ${ACCOUNT.sid} status active` });
    expect(await adapter.verifyCredentials({ ...creds, api_secret: 'wrong' })).toEqual({
      ok: false,
      detail: 'authentication failed (20003)',
    });

    const m = message('+14155550103');
    const err = await sendError(adapter.send(m.payload, { ...creds, api_secret: 'wrong' }, m.ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as PermanentSendError).code).toBe('20003');
  });

  it('retries a callback the receiver refused', async () => {
    const m = message('+14155550104');
    receiver.answers.push(500);

    await adapter.send(m.payload, creds, m.ctx);
    // The simulator writes down a callback once its answer is read, a moment after the receiver has it.
    const sent = () => sim.callbacksSent.filter((c) => c.url === m.statusCallbackUrl);
    await waitFor(() => m.callbacks().length === 3 && sent().length === 4);

    expect(sent().map((c) => [c.status, c.httpStatus])).toEqual([
      ['queued', 500],
      ['queued', 200],
      ['sent', 200],
      ['delivered', 200],
    ]);
  });
});

describe('Twilio simulator validation', () => {
  it.each([
    ['not-a-number', 'hi', '21211'],
    ['+14155550105', '', '21602'],
  ])('rejects To=%s Body=%j with code %s', async (to, body, code) => {
    const m = message(to, body);
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as PermanentSendError).code).toBe(code);
    expect(sim.sendCount(m.statusCallbackUrl)).toBe(0);
  });

  it('requires a sender (21603)', async () => {
    const m = message('+14155550106');
    const { from: _none, ...noSender } = creds;
    const err = await sendError(adapter.send(m.payload, noSender, m.ctx));
    expect((err as PermanentSendError).code).toBe('21603');
  });
});

describe('Twilio simulator failure modes by number', () => {
  it('+15005550001: 400 21211, permanent, nothing sent', async () => {
    const m = message('+15005550001');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as PermanentSendError).code).toBe('21211');
    expect((err as PermanentSendError).message).toContain("The 'To' number +15005550001 is not a valid phone number.");
    expect(sim.sendCount(m.statusCallbackUrl)).toBe(0);
  });

  it('+15005550009: 400 21610, permanent', async () => {
    const m = message('+15005550009');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toMatchObject({ code: '21610', retryClass: 'permanent' });
  });

  it('+15005550500: 503 twice per message, then accepted', async () => {
    const m = message('+15005550500');
    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await sendError(adapter.send(m.payload, creds, m.ctx));
      expect(err).toBeInstanceOf(TransientSendError);
      expect((err as TransientSendError).code).toBe('http_503');
    }
    const result = await adapter.send(m.payload, creds, m.ctx);
    expect(result.status).toBe('queued');
    expect(sim.sendCount(m.statusCallbackUrl)).toBe(1);
    expect(sim.requests.filter((r) => r.form.StatusCallback === m.statusCallbackUrl)).toHaveLength(3);
  });

  it('+15005550429: 429 with Retry-After: 2 once per message, then accepted', async () => {
    const m = message('+15005550429');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: '20429', retryAfterMs: 2000 });
    await expect(adapter.send(m.payload, creds, m.ctx)).resolves.toMatchObject({ status: 'queued' });
  });

  it('+15005550408: hangs once per message (client times out), then accepted', async () => {
    const m = message('+15005550408');
    const err = await sendError(adapter.send(m.payload, { ...creds, timeout_ms: '300' }, m.ctx));
    expect(err).toMatchObject({ code: 'timeout', retryClass: 'transient' });
    await expect(adapter.send(m.payload, creds, m.ctx)).resolves.toMatchObject({ status: 'queued' });
  });

  it('+15005550601: callbacks 2 s apart', async () => {
    const m = message('+15005550601');
    const sentAt = Date.now();
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 1, 4000);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1900);
  });

  it('+15005550602: every callback twice', async () => {
    const m = message('+15005550602');
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 6);
    expect(m.updates().map((u) => u.status)).toEqual(['queued', 'queued', 'sent', 'sent', 'delivered', 'delivered']);
    const tokens = m.callbacks().map((c) => c.headers['i-twilio-idempotency-token']);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[0]).not.toBe(tokens[2]);
  });

  it('+15005550603: callbacks out of order', async () => {
    const m = message('+15005550603');
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 3);
    expect(m.updates().map((u) => u.status)).toEqual(['delivered', 'sent', 'queued']);
  });

  it('+15005550604: every callback arrives before the send returns', async () => {
    const m = message('+15005550604');
    const result = await adapter.send(m.payload, creds, m.ctx);
    expect(m.updates().map((u) => [u.status, u.providerMessageId])).toEqual([
      ['queued', result.providerMessageId],
      ['sent', result.providerMessageId],
      ['delivered', result.providerMessageId],
    ]);
  });

  it('+15005550605: no callbacks at all', async () => {
    const m = message('+15005550605');
    await adapter.send(m.payload, creds, m.ctx);
    await new Promise((r) => setTimeout(r, 200));
    expect(m.callbacks()).toEqual([]);
    expect(sim.callbacksSent.filter((c) => c.url === m.statusCallbackUrl)).toEqual([]);
  });

  it('+15005550606: ends undelivered with ErrorCode 30005', async () => {
    const m = message('+15005550606');
    await adapter.send(m.payload, creds, m.ctx);
    await waitFor(() => m.callbacks().length === 3);
    expect(m.updates().map((u) => u.status)).toEqual(['queued', 'sent', 'undelivered']);
    expect(m.updates()[2]).toMatchObject({ errorCode: '30005' });
  });
});

describe('Twilio simulator global faults', () => {
  it('permanentAll answers 400 21612', async () => {
    sim.setMode({ permanentAll: true });
    const m = message('+14155550107');
    const err = await sendError(adapter.send(m.payload, creds, m.ctx));
    expect(err).toMatchObject({ code: '21612', retryClass: 'permanent' });
  });

  it('error5xxRate 1 answers 503', async () => {
    sim.setMode({ error5xxRate: 1 });
    const m = message('+14155550108');
    expect(await sendError(adapter.send(m.payload, creds, m.ctx))).toMatchObject({ code: 'http_503' });
  });

  it('rateLimitRate 1 answers 429 with the configured Retry-After', async () => {
    sim.setMode({ rateLimitRate: 1, retryAfterSec: 5 });
    const m = message('+14155550109');
    expect(await sendError(adapter.send(m.payload, creds, m.ctx))).toMatchObject({ code: '20429', retryAfterMs: 5000 });
  });

  it('leaves scripted numbers alone', async () => {
    sim.setMode({ permanentAll: true });
    const m = message('+15005550606');
    await expect(adapter.send(m.payload, creds, m.ctx)).resolves.toMatchObject({ status: 'queued' });
  });
});

describe('Twilio simulator lifecycle', () => {
  it('closes promptly while a request hangs', async () => {
    const own = await startTwilioSimulator({ accounts: [ACCOUNT] });
    own.setMode({ timeoutRate: 1 });
    const m = message('+14155550110');
    const pending = sendError(adapter.send(m.payload, { ...creds, base_url: own.url }, m.ctx));
    await waitFor(() => own.requests.length === 1);

    const started = Date.now();
    await own.close();

    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ code: 'network', retryClass: 'transient' });
  });
});

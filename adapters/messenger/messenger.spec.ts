import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jsonWebhook } from '../../tests/support/json-webhook';
import { closedAfterEach } from '../../tests/support/local-server';
import { sendError } from '../../tests/support/send-error';
import { fakeGraph, graphError, json, type Responder } from '../../tests/support/fake-graph';
import {
  PermanentSendError,
  RateLimitedError,
  TransientSendError,
  WebhookPayloadError,
  type Credentials,
  type DispatchPayload,
  type SendContext,
  type WebhookRequest,
} from '../types';
import { MessengerAdapter } from './messenger';
import { EgressPolicy } from '../egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const TOKEN = 'EAAJpage-access-token-do-not-log';
const APP_SECRET = 'messenger-app-secret-do-not-log';
const PAGE_ID = '104752838726392';
const PSID = '24578916347203218';
const MID = 'm_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;

const graph = closedAfterEach(fakeGraph);

const accepted: Responder = (_req, res) => json(res, 200, { recipient_id: PSID, message_id: MID });

function credentials(baseUrl: string, extra: Record<string, string> = {}): Credentials {
  return { page_access_token: TOKEN, app_secret: APP_SECRET, base_url: baseUrl, ...extra };
}

const adapter = new MessengerAdapter(() => NOW, LOOPBACK);
const payload: DispatchPayload = { messageId: '0190f0aa-0000-7000-8000-000000000002', to: PSID, body: 'Your table is ready' };
const ctx: SendContext = { traceId: '0af7651916cd43dd8448eb211c80319c', statusCallbackUrl: 'https://dispatch.example.com/webhooks/messenger/ch_2' };
const inWindow = { ...ctx, lastInboundAt: new Date(NOW - 2 * HOUR) };
const proof = createHmac('sha256', APP_SECRET).update(TOKEN).digest('hex');

describe('MessengerAdapter.send', () => {
  it('answers inside the 24-hour window with messaging_type RESPONSE, exactly as the Send API documents', async () => {
    const g = await graph(accepted);

    const result = await adapter.send(payload, credentials(g.url), inWindow);

    expect(result).toMatchObject({ providerMessageId: MID, status: 'queued', raw: { recipient_id: PSID } });
    expect(g.requests).toHaveLength(1);
    const [req] = g.requests;
    expect(req?.method).toBe('POST');
    expect(req?.pathname).toBe('/v25.0/me/messages');
    expect(req?.query).toEqual({ appsecret_proof: proof });
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-trace-id']).toBe(ctx.traceId);
    expect(req?.json).toEqual({
      recipient: { id: PSID },
      messaging_type: 'RESPONSE',
      message: { text: 'Your table is ready', metadata: payload.messageId },
    });
  });

  it('sends outside the window with the message tag from metadata', async () => {
    const g = await graph(accepted);

    await adapter.send({ ...payload, metadata: { message_tag: 'POST_PURCHASE_UPDATE' } }, credentials(g.url), ctx);

    expect(g.requests[0]?.json).toEqual({
      recipient: { id: PSID },
      messaging_type: 'MESSAGE_TAG',
      tag: 'POST_PURCHASE_UPDATE',
      message: { text: 'Your table is ready', metadata: payload.messageId },
    });
  });

  it('prefers RESPONSE inside the window even when a tag is given', async () => {
    const g = await graph(accepted);
    await adapter.send({ ...payload, metadata: { message_tag: 'HUMAN_AGENT' } }, credentials(g.url), inWindow);
    expect(g.requests[0]?.json).toMatchObject({ messaging_type: 'RESPONSE' });
    expect(g.requests[0]?.json).not.toHaveProperty('tag');
  });

  it.each([
    ['never wrote', undefined],
    ['wrote 25 hours ago', new Date(NOW - 25 * HOUR)],
  ])('refuses an untagged message when the person %s, without calling Meta', async (_label, lastInboundAt) => {
    const g = await graph(accepted);

    const err = await sendError(adapter.send(payload, credentials(g.url), { ...ctx, lastInboundAt }));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'messenger_window_closed' });
    expect(g.requests).toHaveLength(0);
  });

  it('refuses an unknown tag, a missing body and text over 2000 characters, without calling Meta', async () => {
    const g = await graph(accepted);
    expect(await sendError(adapter.send({ ...payload, metadata: { message_tag: 'PROMOTION' } }, credentials(g.url), ctx))).toMatchObject({
      code: 'messenger_invalid_tag',
    });
    expect(await sendError(adapter.send({ ...payload, body: undefined }, credentials(g.url), inWindow))).toMatchObject({
      code: 'messenger_body_missing',
    });
    expect(await sendError(adapter.send({ ...payload, body: 'x'.repeat(2001) }, credentials(g.url), inWindow))).toMatchObject({
      code: 'messenger_body_too_long',
    });
    expect(g.requests).toHaveLength(0);
  });

  it.each([
    [400, 551, 1545041, PermanentSendError, '551'],
    [400, 10, 2018278, PermanentSendError, '10/2018278'],
    [400, 100, 2018001, PermanentSendError, '100/2018001'],
    [400, 10, undefined, PermanentSendError, '10'],
    [401, 190, 460, PermanentSendError, '190'],
    [400, 230, undefined, PermanentSendError, '230'],
    [500, 1200, undefined, TransientSendError, '1200'],
    [500, 2, undefined, TransientSendError, '2'],
  ])('maps HTTP %i code %i/%s to %s %s', async (status, code, subcode, kind, ourCode) => {
    const g = await graph((_req, res) => json(res, status, graphError(code, `(#${code}) refused`, subcode ? { error_subcode: subcode } : {})));

    const err = await sendError(adapter.send(payload, credentials(g.url), inWindow));

    expect(err).toBeInstanceOf(kind);
    expect((err as PermanentSendError).code).toBe(ourCode);
  });

  it.each([
    [613, undefined, {}, 60_000],
    [613, undefined, { 'Retry-After': '2' }, 2_000],
    [4, undefined, {}, 60_000],
    [613, 1893016, {}, 3_600_000],
  ])('maps code %i/%s to a rate-limit error (headers %j → wait %i ms)', async (code, subcode, headers, waitMs) => {
    const g = await graph((_req, res) => json(res, 400, graphError(code, 'rate limit', subcode ? { error_subcode: subcode } : {}), headers));

    const err = await sendError(adapter.send(payload, credentials(g.url), inWindow));

    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(waitMs);
  });

  it('maps a 503 without a Graph body to a transient error and a refused connection to a network error', async () => {
    const down = await graph((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    expect(await sendError(adapter.send(payload, credentials(down.url), inWindow))).toMatchObject({ retryClass: 'transient', code: 'http_503' });
    const closed = await graph(() => undefined);
    await closed.close();
    expect(await sendError(adapter.send(payload, credentials(closed.url), inWindow))).toMatchObject({ retryClass: 'transient', code: 'network' });
  });

  it('keeps the token out of error messages', async () => {
    const g = await graph((_req, res) => json(res, 401, graphError(190, 'Invalid OAuth access token.')));
    const err = (await sendError(adapter.send(payload, credentials(g.url), inWindow))) as Error;
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain(proof);
  });

  it('refuses to send without a page token', async () => {
    expect(await sendError(adapter.send(payload, { app_secret: APP_SECRET }, inWindow))).toMatchObject({
      code: 'missing_credentials',
      message: 'missing messenger credentials: page_access_token',
    });
  });
});

describe('MessengerAdapter.verifyCredentials', () => {
  it('reads the page behind the token', async () => {
    const g = await graph((_req, res) => json(res, 200, { id: PAGE_ID, name: 'Turumba Bistro' }));

    expect(await adapter.verifyCredentials(credentials(g.url, { page_id: PAGE_ID }))).toEqual({
      ok: true,
      detail: `page Turumba Bistro (${PAGE_ID})`,
    });
    expect(g.requests[0]).toMatchObject({ method: 'GET', pathname: '/v25.0/me' });
    expect(g.requests[0]?.query).toEqual({ fields: 'id,name', appsecret_proof: proof });
    expect(g.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('refuses a token of another page than page_id, and an invalid token', async () => {
    const other = await graph((_req, res) => json(res, 200, { id: '999', name: 'Elsewhere' }));
    expect(await adapter.verifyCredentials(credentials(other.url, { page_id: PAGE_ID }))).toEqual({
      ok: false,
      detail: `the token belongs to page 999, not page_id ${PAGE_ID}`,
    });
    const invalid = await graph((_req, res) => json(res, 400, graphError(190, 'Invalid OAuth access token.')));
    expect(await adapter.verifyCredentials(credentials(invalid.url))).toEqual({ ok: false, detail: 'authentication failed (190)' });
  });
});

function webhook(body: unknown, headers?: Record<string, string>): WebhookRequest {
  return jsonWebhook('https://dispatch.example.com/webhooks/messenger/ch_2', body, headers);
}

/** The channel the webhooks arrive on: the page of the events below. */
const CREDENTIALS = credentials('https://graph.example.test', { page_id: PAGE_ID });

const page = (...messaging: unknown[]) => ({ object: 'page', entry: [{ id: PAGE_ID, time: 1458692752478, messaging }] });

// Meta's examples from the Messenger webhook event reference (messages, message_deliveries, message_reads).
const TEXT_MESSAGE = {
  sender: { id: PSID },
  recipient: { id: PAGE_ID },
  timestamp: 1458692752478,
  message: { mid: 'mid.1457764197618:41d102a3e1ae206a38', text: 'hello, world!', quick_reply: { payload: 'DEVELOPER_DEFINED_PAYLOAD' } },
};
const DELIVERY = {
  sender: { id: PSID },
  recipient: { id: PAGE_ID },
  delivery: { mids: ['mid.1458668856218:ed81099e15d3f4f233'], watermark: 1458668856253 },
};
const READ = { sender: { id: PSID }, recipient: { id: PAGE_ID }, timestamp: 1458668856463, read: { watermark: 1458668856253 } };
const ECHO = {
  sender: { id: PAGE_ID },
  recipient: { id: PSID },
  timestamp: 1457764197627,
  message: { is_echo: true, app_id: 1517776481860111, metadata: 'DEVELOPER_DEFINED_METADATA_STRING', mid: 'mid.1457764197618:41d102a3e1ae206a38', text: 'hi' },
};

describe('MessengerAdapter.parseInbound', () => {
  it("reads Meta's text message example", () => {
    expect(adapter.parseInbound(webhook(page(TEXT_MESSAGE)), CREDENTIALS)).toEqual([
      {
        providerMessageId: 'mid.1457764197618:41d102a3e1ae206a38',
        from: PSID,
        to: PAGE_ID,
        body: 'hello, world!',
        receivedAt: new Date(1458692752478),
        raw: TEXT_MESSAGE,
      },
    ]);
  });

  it('stores attachments as placeholders', () => {
    const image = { ...TEXT_MESSAGE, message: { mid: 'm_1', attachments: [{ type: 'image', payload: { url: 'https://scontent.example/x.jpg' } }] } };
    expect(adapter.parseInbound(webhook(page(image)), CREDENTIALS)[0]?.body).toBe('[image]');
  });

  it('ignores echoes of our own sends and receipts', () => {
    expect(adapter.parseInbound(webhook(page(ECHO, DELIVERY, READ)), CREDENTIALS)).toEqual([]);
  });

  it('ignores entries without messaging (standby, feed changes)', () => {
    expect(adapter.parseInbound(webhook({ object: 'page', entry: [{ id: PAGE_ID, time: 1, standby: [] }] }), CREDENTIALS)).toEqual([]);
  });

  it.each([
    ['a WhatsApp envelope', { object: 'whatsapp_business_account', entry: [] }],
    ['messaging not a list', { object: 'page', entry: [{ id: PAGE_ID, messaging: {} }] }],
    ['a message without mid', page({ ...TEXT_MESSAGE, message: { text: 'x' } })],
    ['a message without sender', page({ ...TEXT_MESSAGE, sender: undefined })],
    ['not JSON', 'object=page'],
  ])('rejects %s', (_label, body) => {
    expect(() => adapter.parseInbound(webhook(body), CREDENTIALS)).toThrow(WebhookPayloadError);
  });
});

describe('MessengerAdapter.parseStatusUpdates', () => {
  it('reports each delivered mid and the delivery watermark for the person', () => {
    expect(adapter.parseStatusUpdates(webhook(page(DELIVERY)), CREDENTIALS)).toEqual([
      { providerMessageId: 'mid.1458668856218:ed81099e15d3f4f233', status: 'delivered', occurredAt: new Date(1458668856253) },
      {
        providerMessageId: '',
        status: 'delivered',
        occurredAt: new Date(1458668856253),
        watermark: { recipient: PSID, upTo: new Date(1458668856253) },
      },
    ]);
  });

  it('reports the watermark alone when an old client sends no mids', () => {
    const { mids: _omit, ...watermarkOnly } = DELIVERY.delivery;
    expect(adapter.parseStatusUpdates(webhook(page({ ...DELIVERY, delivery: watermarkOnly })), CREDENTIALS)).toEqual([
      { providerMessageId: '', status: 'delivered', occurredAt: new Date(1458668856253), watermark: { recipient: PSID, upTo: new Date(1458668856253) } },
    ]);
  });

  it('turns a read receipt into a read watermark', () => {
    expect(adapter.parseStatusUpdates(webhook(page(READ)), CREDENTIALS)).toEqual([
      { providerMessageId: '', status: 'read', occurredAt: new Date(1458668856463), watermark: { recipient: PSID, upTo: new Date(1458668856253) } },
    ]);
  });

  it('ignores messages and rejects a receipt without a watermark', () => {
    expect(adapter.parseStatusUpdates(webhook(page(TEXT_MESSAGE, ECHO)), CREDENTIALS)).toEqual([]);
    expect(() => adapter.parseStatusUpdates(webhook(page({ ...READ, read: {} })), CREDENTIALS)).toThrow(WebhookPayloadError);
  });
});

describe('Messenger webhooks about another page', () => {
  // One app secret signs the events of every page the app serves: the signature alone does not make them this channel's.
  const OTHER_PAGE = '998877665544332';
  const onPage = (id: string | undefined, ...messaging: unknown[]) => ({
    object: 'page',
    entry: [{ ...(id === undefined ? {} : { id }), time: 1458692752478, messaging }],
  });

  it("leaves out messages and receipts of another page's entry, or of an entry without id", () => {
    expect(adapter.parseInbound(webhook(onPage(OTHER_PAGE, { ...TEXT_MESSAGE, recipient: { id: OTHER_PAGE } })), CREDENTIALS)).toEqual([]);
    expect(adapter.parseStatusUpdates(webhook(onPage(OTHER_PAGE, DELIVERY, READ)), CREDENTIALS)).toEqual([]);
    expect(adapter.parseStatusUpdates(webhook(onPage(undefined, DELIVERY)), CREDENTIALS)).toEqual([]);
  });

  it("keeps the channel's own entries of a delivery that also carries another page's", () => {
    const both = { object: 'page', entry: [...onPage(OTHER_PAGE, READ).entry, ...page(DELIVERY).entry] };
    expect(adapter.parseStatusUpdates(webhook(both), CREDENTIALS).map((u) => u.status)).toEqual(['delivered', 'delivered']);
  });

  it('applies nothing on a channel without page_id', () => {
    expect(adapter.parseStatusUpdates(webhook(page(DELIVERY)), credentials('x'))).toEqual([]);
    expect(adapter.parseInbound(webhook(page(TEXT_MESSAGE)), credentials('x'))).toEqual([]);
  });
});

describe('MessengerAdapter webhook security', () => {
  const body = JSON.stringify(page(DELIVERY));
  const sign = (raw: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

  it('verifies X-Hub-Signature-256 with the app secret', () => {
    expect(adapter.verifyWebhookSignature(webhook(body, { 'x-hub-signature-256': sign(body) }), APP_SECRET)).toBe(true);
    expect(adapter.verifyWebhookSignature(webhook(body, { 'x-hub-signature-256': sign(body, 'nope') }), APP_SECRET)).toBe(false);
    expect(adapter.verifyWebhookSignature(webhook(body), APP_SECRET)).toBe(false);
    expect(adapter.verifyWebhookSignature(webhook(body, { 'x-hub-signature-256': 'sha256=' }), APP_SECRET)).toBe(false);
    expect(adapter.webhookSigningSecret(credentials('x'))).toBe(APP_SECRET);
  });

  it('answers the hub.* handshake with the channel secret as verify token', () => {
    const get = (query: Record<string, string>): WebhookRequest => ({ ...webhook(''), method: 'GET', rawBody: Buffer.alloc(0), query });
    const hub = { 'hub.mode': 'subscribe', 'hub.verify_token': 'whsec_1', 'hub.challenge': 'CHALLENGE_ACCEPTED' };
    expect(adapter.verificationChallenge(get(hub), 'whsec_1')).toMatchObject({ status: 200, body: 'CHALLENGE_ACCEPTED' });
    expect(adapter.verificationChallenge(get(hub), 'whsec_2')?.status).toBe(403);
    expect(adapter.verificationChallenge(get({}), 'whsec_1')).toBeUndefined();
  });
});

describe('MessengerAdapter channel plumbing', () => {
  it('registers as messenger/default at 40/s, requiring the page token and app secret', () => {
    expect(adapter).toMatchObject({ channelType: 'messenger', provider: 'default', defaultRateLimitPerSecond: 40 });
    expect(adapter.requiredCredentials).toEqual(['page_access_token', 'app_secret', 'page_id']);
    expect(adapter.webhookResponse()).toMatchObject({ status: 200 });
  });

  it('accepts page-scoped ids only', () => {
    expect(adapter.validateAddress(PSID)).toBeUndefined();
    expect(adapter.validateAddress('+16505551234')).toMatch(/PSID/);
    expect(adapter.validateAddress('abc')).toMatch(/PSID/);
  });
});

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
import { WhatsAppAdapter } from './whatsapp';
import { EgressPolicy } from '../egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const TOKEN = 'EAAGm0PX4ZCpsBAwhatsapp-token-do-not-log';
const APP_SECRET = 'app-secret-do-not-log';
const PHONE_NUMBER_ID = '106540352242922';
const WAMID = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600_000;

const graph = closedAfterEach(fakeGraph);

const accepted: Responder = (_req, res) =>
  json(res, 200, { messaging_product: 'whatsapp', contacts: [{ input: '+16505551234', wa_id: '16505551234' }], messages: [{ id: WAMID }] });

function credentials(baseUrl: string, extra: Record<string, string> = {}): Credentials {
  return { access_token: TOKEN, phone_number_id: PHONE_NUMBER_ID, app_secret: APP_SECRET, base_url: baseUrl, ...extra };
}

const adapter = new WhatsAppAdapter(() => NOW, LOOPBACK);
const payload: DispatchPayload = { messageId: '0190f0aa-0000-7000-8000-000000000001', to: '+16505551234', body: 'Your order has shipped' };
const ctx: SendContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  statusCallbackUrl: 'https://dispatch.example.com/webhooks/whatsapp/ch_1?message_id=x',
};
const inWindow = { ...ctx, lastInboundAt: new Date(NOW - HOUR) };
const proof = createHmac('sha256', APP_SECRET).update(TOKEN).digest('hex');

describe('WhatsAppAdapter.send', () => {
  it('posts a template outside the window, exactly as the Cloud API documents', async () => {
    const g = await graph(accepted);

    const result = await adapter.send(
      { ...payload, body: undefined, template: { name: 'order_shipped', language: 'en_GB', variables: { '2': 'DHL', '1': 'Ada', '10': 'last' } } },
      credentials(g.url),
      ctx,
    );

    expect(result).toMatchObject({ providerMessageId: WAMID, status: 'queued' });
    expect(g.requests).toHaveLength(1);
    const [req] = g.requests;
    expect(req?.method).toBe('POST');
    expect(req?.pathname).toBe(`/v25.0/${PHONE_NUMBER_ID}/messages`);
    expect(req?.query).toEqual({ appsecret_proof: proof });
    expect(req?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-trace-id']).toBe(ctx.traceId);
    expect(req?.json).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '16505551234',
      biz_opaque_callback_data: payload.messageId,
      type: 'template',
      template: {
        name: 'order_shipped',
        language: { code: 'en_GB' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Ada' },
              { type: 'text', text: 'DHL' },
              { type: 'text', text: 'last' },
            ],
          },
        ],
      },
    });
  });

  it('sends named template parameters by name and defaults the language to en_US', async () => {
    const g = await graph(accepted);

    await adapter.send({ ...payload, template: { name: 'welcome', variables: { first_name: 'Ada' } } }, credentials(g.url), ctx);

    expect((g.requests[0]?.json as { template: unknown }).template).toEqual({
      name: 'welcome',
      language: { code: 'en_US' },
      components: [{ type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Ada' }] }],
    });
  });

  it('sends a template without variables with no components', async () => {
    const g = await graph(accepted);
    await adapter.send({ ...payload, template: { name: 'hello_world' } }, credentials(g.url), ctx);
    expect((g.requests[0]?.json as { template: unknown }).template).toEqual({ name: 'hello_world', language: { code: 'en_US' } });
  });

  it('posts free-form text inside the 24-hour window', async () => {
    const g = await graph(accepted);

    await adapter.send(payload, credentials(g.url), inWindow);

    expect(g.requests[0]?.json).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '16505551234',
      biz_opaque_callback_data: payload.messageId,
      type: 'text',
      text: { body: 'Your order has shipped', preview_url: false },
    });
  });

  it.each([
    ['never wrote', undefined],
    ['wrote 25 hours ago', new Date(NOW - 25 * HOUR)],
    ['wrote exactly 24 hours ago', new Date(NOW - 24 * HOUR)],
  ])('refuses free-form text when the recipient %s, without calling Meta', async (_label, lastInboundAt) => {
    const g = await graph(accepted);

    const err = await sendError(adapter.send(payload, credentials(g.url), { ...ctx, lastInboundAt }));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'whatsapp_window_closed', retryClass: 'permanent' });
    expect(g.requests).toHaveLength(0);
  });

  it('still sends free-form text a millisecond before the window closes', async () => {
    const g = await graph(accepted);
    await adapter.send(payload, credentials(g.url), { ...ctx, lastInboundAt: new Date(NOW - 24 * HOUR + 1) });
    expect(g.requests).toHaveLength(1);
  });

  it('refuses a message with neither body nor template, and text over 4096 characters', async () => {
    const g = await graph(accepted);
    expect(await sendError(adapter.send({ ...payload, body: undefined }, credentials(g.url), inWindow))).toMatchObject({
      code: 'whatsapp_body_missing',
    });
    expect(await sendError(adapter.send({ ...payload, body: 'x'.repeat(4097) }, credentials(g.url), inWindow))).toMatchObject({
      code: 'whatsapp_body_too_long',
    });
    expect(g.requests).toHaveLength(0);
  });

  it('honours api_version and a base_url with a path prefix', async () => {
    const g = await graph(accepted);
    await adapter.send(payload, credentials(`${g.url}/graph/`, { api_version: 'v21.0' }), inWindow);
    expect(g.requests[0]?.pathname).toBe(`/graph/v21.0/${PHONE_NUMBER_ID}/messages`);
  });

  it.each([
    [400, 131047, PermanentSendError, '131047'],
    [400, 131026, PermanentSendError, '131026'],
    [401, 190, PermanentSendError, '190'],
    [404, 132001, PermanentSendError, '132001'],
    [400, 132000, PermanentSendError, '132000'],
    [400, 100, PermanentSendError, '100'],
    [500, 131000, TransientSendError, '131000'],
    [500, 1, TransientSendError, '1'],
    [503, 2, TransientSendError, '2'],
    [400, 999999, PermanentSendError, '999999'],
  ])('maps HTTP %i code %i to %s', async (status, code, kind, ourCode) => {
    const g = await graph((_req, res) => json(res, status, graphError(code, `(#${code}) refused`)));

    const err = await sendError(adapter.send(payload, credentials(g.url), inWindow));

    expect(err).toBeInstanceOf(kind);
    expect((err as PermanentSendError).code).toBe(ourCode);
    expect((err as Error).message).toContain(`code ${code}`);
    expect((err as Error).message).toContain('fbtrace_id AbCdEfGhIjK');
  });

  it.each([
    [130429, {}, 1_000],
    [130429, { 'Retry-After': '3' }, 3_000],
    [131056, {}, 6_000],
    [80007, {}, 60_000],
    [4, {}, 60_000],
    [4, { 'X-Business-Use-Case-Usage': JSON.stringify({ '104': [{ type: 'whatsapp', estimated_time_to_regain_access: 2 }] }) }, 120_000],
  ])('maps code %i to a rate-limit error (headers %j → wait %i ms)', async (code, headers, waitMs) => {
    const g = await graph((_req, res) => json(res, 400, graphError(code, 'Rate limit hit'), headers));

    const err = await sendError(adapter.send(payload, credentials(g.url), inWindow));

    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: String(code), retryAfterMs: waitMs });
  });

  it('falls back to the HTTP status: 429 rate limited, 502 without a Graph body transient', async () => {
    const limited = await graph((_req, res) => json(res, 429, { nope: true }, { 'Retry-After': '5' }));
    expect(await sendError(adapter.send(payload, credentials(limited.url), inWindow))).toMatchObject({
      retryClass: 'rate_limited',
      code: 'http_429',
      retryAfterMs: 5000,
    });
    const proxy = await graph((_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    });
    expect(await sendError(adapter.send(payload, credentials(proxy.url), inWindow))).toMatchObject({
      retryClass: 'transient',
      code: 'http_502',
    });
  });

  it('keeps the token and app secret out of error messages', async () => {
    const g = await graph((_req, res) => json(res, 401, graphError(190, 'Error validating access token: Session has expired')));
    const err = (await sendError(adapter.send(payload, credentials(g.url), inWindow))) as Error;
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain(APP_SECRET);
    expect(err.message).not.toContain(proof);
  });

  it('treats an accepted request without a message id as permanent, so it is never sent twice', async () => {
    const g = await graph((_req, res) => json(res, 200, { messaging_product: 'whatsapp', messages: [] }));
    expect(await sendError(adapter.send(payload, credentials(g.url), inWindow))).toMatchObject({
      retryClass: 'permanent',
      code: 'unexpected_response',
    });
  });

  it('maps a refused connection, a timeout and a cancellation to transient errors', async () => {
    const closed = await graph(() => undefined);
    await closed.close();
    const refused = await sendError(adapter.send(payload, credentials(closed.url), inWindow));
    expect(refused).toMatchObject({ retryClass: 'transient', code: 'network' });
    expect((refused as Error).message).toContain('ECONNREFUSED');

    const silent = await graph(() => undefined);
    expect(await sendError(adapter.send(payload, credentials(silent.url, { timeout_ms: '150' }), inWindow))).toMatchObject({
      retryClass: 'transient',
      code: 'timeout',
    });

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await sendError(adapter.send(payload, credentials(silent.url), { ...inWindow, signal: controller.signal }))).toMatchObject({
      code: 'aborted',
    });
  });

  it('refuses to send without credentials, naming only what is missing', async () => {
    const err = await sendError(adapter.send(payload, { app_secret: APP_SECRET }, inWindow));
    expect(err).toMatchObject({ code: 'missing_credentials', message: 'missing whatsapp credentials: access_token, phone_number_id' });
  });
});

describe('WhatsAppAdapter.verifyCredentials', () => {
  it('reads the phone number with the token and reports it', async () => {
    const g = await graph((_req, res) =>
      json(res, 200, { verified_name: 'Turumba', display_phone_number: '+1 555-010-0001', quality_rating: 'GREEN', id: PHONE_NUMBER_ID }),
    );

    const check = await adapter.verifyCredentials(credentials(g.url));

    expect(check).toEqual({ ok: true, detail: 'phone number +1 555-010-0001 (Turumba), quality GREEN' });
    expect(g.requests[0]).toMatchObject({ method: 'GET', pathname: `/v25.0/${PHONE_NUMBER_ID}` });
    expect(g.requests[0]?.query).toEqual({ fields: 'display_phone_number,verified_name,quality_rating', appsecret_proof: proof });
    expect(g.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('reports an expired token and an unknown phone number id', async () => {
    const expired = await graph((_req, res) => json(res, 401, graphError(190, 'Session has expired', { error_subcode: 463 })));
    expect(await adapter.verifyCredentials(credentials(expired.url))).toEqual({ ok: false, detail: 'authentication failed (190/463)' });

    const unknown = await graph((_req, res) => json(res, 400, graphError(100, 'Unsupported get request', { error_subcode: 33 })));
    expect(await adapter.verifyCredentials(credentials(unknown.url))).toEqual({
      ok: false,
      detail: `phone number id ${PHONE_NUMBER_ID} not found or not accessible with this token (100/33)`,
    });
  });

  it('reports an unreachable API', async () => {
    const silent = await graph(() => undefined);
    const check = await adapter.verifyCredentials(credentials(silent.url, { timeout_ms: '100' }));
    expect(check.ok).toBe(false);
    expect(check.detail).toBe("graph api: no valid answer (unreachable, or not the provider's API)");
  });
});

function webhook(body: unknown, headers?: Record<string, string>): WebhookRequest {
  return jsonWebhook('https://dispatch.example.com/webhooks/whatsapp/ch_1', body, headers);
}

/** The channel the webhooks arrive on: Meta's samples below are for its number. */
const CREDENTIALS = credentials('https://graph.example.test');

/** Meta's sample for the "messages" field (App Dashboard → WhatsApp → Configuration → Test). */
const SAMPLE_TEXT = {
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '0',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '16505551111', phone_number_id: PHONE_NUMBER_ID },
            contacts: [{ profile: { name: 'test user name' }, wa_id: '16315551181' }],
            messages: [{ from: '16315551181', id: 'ABGGFlA5Fpa', timestamp: '1504902988', type: 'text', text: { body: 'this is a text message' } }],
          },
        },
      ],
    },
  ],
};

/** Status webhooks as the Cloud API sends them (docs: "Status messages webhook reference"). */
function statusWebhook(status: Record<string, unknown>): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '1314702302917944',
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15556459128', phone_number_id: PHONE_NUMBER_ID },
              statuses: [status],
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}
const SENT = {
  id: 'wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA=',
  status: 'sent',
  timestamp: '1750857384',
  recipient_id: '5516992318222',
  biz_opaque_callback_data: '0190f0aa-0000-7000-8000-000000000001',
  conversation: { id: 'a75d17ad06104c51166f948319b03c6a', expiration_timestamp: '1750943820', origin: { type: 'service' } },
  pricing: { billable: true, pricing_model: 'CBP', category: 'service' },
};
const FAILED = {
  id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NTlGMDQzRUY1NjdGNzdFQUIA',
  status: 'failed',
  timestamp: '1750857390',
  recipient_id: '16505551234',
  errors: [
    {
      code: 131047,
      title: 'Re-engagement message',
      message: 'Re-engagement message',
      error_data: { details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.' },
      href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
    },
  ],
};

describe('WhatsAppAdapter.parseInbound', () => {
  it("reads Meta's sample text message, in E.164", () => {
    expect(adapter.parseInbound(webhook(SAMPLE_TEXT), CREDENTIALS)).toEqual([
      {
        providerMessageId: 'ABGGFlA5Fpa',
        from: '+16315551181',
        to: '+16505551111',
        body: 'this is a text message',
        receivedAt: new Date(1504902988 * 1000),
        raw: SAMPLE_TEXT.entry[0]?.changes[0]?.value.messages[0],
      },
    ]);
  });

  it.each([
    [{ type: 'image', image: { caption: 'my receipt', mime_type: 'image/jpeg', sha256: 'HASH', id: '1234' } }, '[image] my receipt'],
    [{ type: 'sticker', sticker: { mime_type: 'image/webp', sha256: 'HASH', id: '5678' } }, '[sticker]'],
    [{ type: 'button', button: { text: 'Track order', payload: 'TRACK' } }, 'Track order'],
    [{ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes please' } } }, 'Yes please'],
    [{ type: 'reaction', reaction: { message_id: 'wamid.X', emoji: '👍' } }, '[reaction 👍]'],
  ])('stores %j as %j', (content, body) => {
    const message = { from: '16315551181', id: 'wamid.ID', timestamp: '1669233778', ...content };
    const req = webhook({
      ...SAMPLE_TEXT,
      entry: [{ id: '0', changes: [{ field: 'messages', value: { ...SAMPLE_TEXT.entry[0]?.changes[0]?.value, messages: [message] } }] }],
    });
    expect(adapter.parseInbound(req, CREDENTIALS)[0]?.body).toBe(body);
  });

  it('reads the signed raw bytes, whatever the body parser made of them', () => {
    expect(adapter.parseInbound({ ...webhook(SAMPLE_TEXT), body: 'not parsed' }, CREDENTIALS)[0]?.providerMessageId).toBe('ABGGFlA5Fpa');
  });

  it('ignores status webhooks and fields other than messages', () => {
    expect(adapter.parseInbound(webhook(statusWebhook(SENT)), CREDENTIALS)).toEqual([]);
    const template = {
      object: 'whatsapp_business_account',
      entry: [{ id: '0', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED', message_template_id: 1 } }] }],
    };
    expect(adapter.parseInbound(webhook(template), CREDENTIALS)).toEqual([]);
    expect(adapter.parseStatusUpdates(webhook(template), CREDENTIALS)).toEqual([]);
  });

  it.each([
    ['another object', { object: 'page', entry: [] }],
    ['entry not a list', { object: 'whatsapp_business_account', entry: {} }],
    [
      'a message without id',
      {
        ...SAMPLE_TEXT,
        entry: [
          {
            id: '0',
            changes: [
              {
                field: 'messages',
                value: { metadata: { display_phone_number: '1', phone_number_id: PHONE_NUMBER_ID }, messages: [{ from: '1', timestamp: '1' }] },
              },
            ],
          },
        ],
      },
    ],
    ['an array', []],
    ['not JSON', '{"object": "whatsapp_business_account", '],
  ])('rejects %s', (_label, body) => {
    expect(() => adapter.parseInbound(webhook(body), CREDENTIALS)).toThrow(WebhookPayloadError);
  });
});

describe('WhatsAppAdapter.parseStatusUpdates', () => {
  it('reads a sent status with our message id from biz_opaque_callback_data', () => {
    expect(adapter.parseStatusUpdates(webhook(statusWebhook(SENT)), CREDENTIALS)).toEqual([
      {
        providerMessageId: SENT.id,
        messageId: '0190f0aa-0000-7000-8000-000000000001',
        status: 'sent',
        occurredAt: new Date(1750857384 * 1000),
      },
    ]);
  });

  it.each([
    ['delivered', 'delivered'],
    ['read', 'read'],
    ['played', 'read'],
  ])('maps %s to %s', (metaStatus, ours) => {
    const [update] = adapter.parseStatusUpdates(webhook(statusWebhook({ ...SENT, status: metaStatus })), CREDENTIALS);
    expect(update?.status).toBe(ours);
  });

  it('carries the error code and title of a failed message', () => {
    expect(adapter.parseStatusUpdates(webhook(statusWebhook(FAILED)), CREDENTIALS)).toEqual([
      {
        providerMessageId: FAILED.id,
        status: 'failed',
        occurredAt: new Date(1750857390 * 1000),
        errorCode: '131047',
        errorMessage: 'Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
      },
    ]);
  });

  it('skips statuses it does not know rather than failing the delivery', () => {
    expect(adapter.parseStatusUpdates(webhook(statusWebhook({ ...SENT, status: 'deleted' })), CREDENTIALS)).toEqual([]);
  });

  it('ignores inbound messages and rejects a status without an id', () => {
    expect(adapter.parseStatusUpdates(webhook(SAMPLE_TEXT), CREDENTIALS)).toEqual([]);
    const { id: _omit, ...noId } = SENT;
    expect(() => adapter.parseStatusUpdates(webhook(statusWebhook(noId)), CREDENTIALS)).toThrow(WebhookPayloadError);
  });
});

describe('WhatsApp webhooks about another business number', () => {
  // One app secret signs the events of every number the app serves: the signature alone does not make them this channel's.
  const forNumber = (phoneNumberId: string | undefined, status: Record<string, unknown>) => {
    const doc = statusWebhook(status) as { entry: Array<{ changes: Array<{ value: { metadata: Record<string, unknown> } }> }> };
    const value = doc.entry[0]?.changes[0]?.value;
    if (value && phoneNumberId === undefined) delete (value as { metadata?: unknown }).metadata;
    else if (value) value.metadata = { ...value.metadata, phone_number_id: phoneNumberId };
    return doc;
  };
  const inboundFor = (phoneNumberId: string) => ({
    ...SAMPLE_TEXT,
    entry: [
      {
        id: '0',
        changes: [
          {
            field: 'messages',
            value: { ...SAMPLE_TEXT.entry[0]?.changes[0]?.value, metadata: { display_phone_number: '16505551111', phone_number_id: phoneNumberId } },
          },
        ],
      },
    ],
  });

  it("leaves out statuses and messages for another number's phone_number_id, or for none", () => {
    expect(adapter.parseStatusUpdates(webhook(forNumber('999999999999999', SENT)), CREDENTIALS)).toEqual([]);
    expect(adapter.parseStatusUpdates(webhook(forNumber(undefined, SENT)), CREDENTIALS)).toEqual([]);
    expect(adapter.parseInbound(webhook(inboundFor('999999999999999')), CREDENTIALS)).toEqual([]);
  });

  it("keeps the channel's own entries of a delivery that also carries another number's", () => {
    const own = forNumber(PHONE_NUMBER_ID, SENT) as { entry: unknown[] };
    const other = forNumber('999999999999999', { ...SENT, id: 'wamid.other', status: 'delivered' }) as { entry: unknown[] };
    const both = { object: 'whatsapp_business_account', entry: [...other.entry, ...own.entry] };
    expect(adapter.parseStatusUpdates(webhook(both), CREDENTIALS).map((u) => [u.providerMessageId, u.status])).toEqual([[SENT.id, 'sent']]);
  });

  it('applies nothing on a channel without phone_number_id', () => {
    expect(adapter.parseStatusUpdates(webhook(statusWebhook(SENT)), { ...CREDENTIALS, phone_number_id: undefined })).toEqual([]);
    expect(adapter.parseInbound(webhook(SAMPLE_TEXT), { ...CREDENTIALS, phone_number_id: '' })).toEqual([]);
  });
});

describe('WhatsAppAdapter.verifyWebhookSignature', () => {
  const body = JSON.stringify(statusWebhook(SENT));
  const sign = (raw: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  const signed = (signature?: string, raw = body): WebhookRequest => webhook(raw, signature === undefined ? {} : { 'x-hub-signature-256': signature });

  it('accepts the HMAC-SHA256 of the raw body with the app secret', () => {
    expect(adapter.verifyWebhookSignature(signed(sign(body)), APP_SECRET)).toBe(true);
  });

  it("passes the known-answer test for X-Hub-Signature-256 (GitHub's published test values)", () => {
    const req = { ...webhook('Hello, World!'), headers: { 'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' } };
    expect(adapter.verifyWebhookSignature(req, "It's a Secret to Everybody")).toBe(true);
  });

  it('hashes the bytes as Meta sent them (escaped unicode), not a re-serialisation', () => {
    const raw = '{"object":"whatsapp_business_account","entry":[],"name":"Jos\\u00e9"}';
    expect(adapter.verifyWebhookSignature(signed(sign(raw), raw), APP_SECRET)).toBe(true);
    expect(adapter.verifyWebhookSignature(signed(sign('{"object":"whatsapp_business_account","entry":[],"name":"José"}'), raw), APP_SECRET)).toBe(false);
  });

  it.each([
    ['another secret', () => signed(sign(body, 'other-secret'))],
    ['a tampered body', () => signed(sign(body), body.replace('sent', 'read'))],
    ['no header', () => signed()],
    ['sha1', () => signed(sign(body).replace('sha256=', 'sha1='))],
    ['no prefix', () => signed(sign(body).slice('sha256='.length))],
    ['a short digest', () => signed(sign(body).slice(0, 40))],
    ['not hex', () => signed(`sha256=${'z'.repeat(64)}`)],
  ])('rejects %s', (_label, req) => {
    expect(adapter.verifyWebhookSignature(req(), APP_SECRET)).toBe(false);
  });

  it('rejects everything when the channel has no app secret', () => {
    expect(adapter.verifyWebhookSignature(signed(sign(body, '')), '')).toBe(false);
  });
});

describe('WhatsAppAdapter.verificationChallenge', () => {
  const get = (query: Record<string, string>, method = 'GET'): WebhookRequest => ({
    method,
    url: 'https://dispatch.example.com/webhooks/whatsapp/ch_1',
    headers: {},
    rawBody: Buffer.alloc(0),
    body: {},
    query,
  });
  const hub = { 'hub.mode': 'subscribe', 'hub.verify_token': 'whsec_channel_secret', 'hub.challenge': '1158201444' };

  it('echoes the challenge when the verify token is the channel secret', () => {
    expect(adapter.verificationChallenge(get(hub), 'whsec_channel_secret')).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: '1158201444',
    });
  });

  it('answers 403 to a wrong token or another mode, 400 without a challenge', () => {
    expect(adapter.verificationChallenge(get({ ...hub, 'hub.verify_token': 'guess' }), 'whsec_channel_secret')?.status).toBe(403);
    expect(adapter.verificationChallenge(get({ ...hub, 'hub.mode': 'unsubscribe' }), 'whsec_channel_secret')?.status).toBe(403);
    expect(adapter.verificationChallenge(get(hub), '')?.status).toBe(403);
    const { 'hub.challenge': _omit, ...noChallenge } = hub;
    expect(adapter.verificationChallenge(get(noChallenge), 'whsec_channel_secret')?.status).toBe(400);
  });

  it('leaves anything that is not a handshake alone', () => {
    expect(adapter.verificationChallenge(get({}), 'whsec_channel_secret')).toBeUndefined();
    expect(adapter.verificationChallenge(get(hub, 'POST'), 'whsec_channel_secret')).toBeUndefined();
  });
});

describe('WhatsAppAdapter channel plumbing', () => {
  it('registers as whatsapp/default at 80/s, requiring the token, phone number id and app secret', () => {
    expect(adapter).toMatchObject({ channelType: 'whatsapp', provider: 'default', defaultRateLimitPerSecond: 80 });
    expect(adapter.requiredCredentials).toEqual(['access_token', 'phone_number_id', 'app_secret']);
  });

  it('verifies webhooks with the app secret and answers them 200', () => {
    expect(adapter.webhookSigningSecret(credentials('x'))).toBe(APP_SECRET);
    expect(adapter.webhookResponse()).toMatchObject({ status: 200 });
  });

  it('accepts only E.164 recipients', () => {
    expect(adapter.validateAddress('+16505551234')).toBeUndefined();
    expect(adapter.validateAddress('16505551234')).toMatch(/E\.164/);
  });
});

import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fakeFormApi } from '../../tests/support/fake-form-api';
import { closedAfterEach } from '../../tests/support/local-server';
import { sendError } from '../../tests/support/send-error';
import { callbackToken, statusCallbackUrl } from '../callback-token';
import {
  PermanentSendError,
  RateLimitedError,
  TransientSendError,
  WebhookPayloadError,
  type Credentials,
  type WebhookKind,
  type WebhookRequest,
} from '../types';
import { JasminSmppAdapter } from './jasmin';
import { EgressPolicy } from '../egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const USERNAME = 'turumba';
const PASSWORD = 'jasmin-pw-secret';
const WEBHOOK_SECRET = 'whsec-channel-secret';
const MESSAGE_ID = '0190f0aa-0000-7000-8000-000000000001';
const JASMIN_ID = '9f1c7b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

/** A stand-in for Jasmin's HTTP API that records exactly what arrived. */
const fakeJasmin = closedAfterEach(fakeFormApi);

/** How Jasmin's Twisted resources answer: text/plain for /send, JSON for /balance. */
function text(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function credentials(baseUrl: string, extra: Record<string, string> = {}): Credentials {
  return { base_url: baseUrl, username: USERNAME, password: PASSWORD, from: 'TURUMBA', ...extra };
}

const adapter = new JasminSmppAdapter(LOOPBACK);
const payload = { messageId: MESSAGE_ID, to: '+255712345678', body: 'Your code is 4821' };
const ctx = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  statusCallbackUrl: statusCallbackUrl('https://dispatch.example.com', 'smpp', 'ch_1', MESSAGE_ID, WEBHOOK_SECRET),
};
const success = (res: ServerResponse): void => text(res, 200, `Success "${JASMIN_ID}"`);

describe('JasminSmppAdapter.send', () => {
  it('posts exactly the documented /send form and reads the Success body', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    const result = await adapter.send(payload, credentials(jasmin.url), ctx);

    expect(result).toMatchObject({ providerMessageId: JASMIN_ID, status: 'queued' });
    expect(jasmin.requests).toHaveLength(1);
    const [req] = jasmin.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/send');
    expect(req?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(req?.headers['x-trace-id']).toBe(ctx.traceId);
    expect(req?.form).toEqual({
      username: USERNAME,
      password: PASSWORD,
      to: '255712345678',
      coding: '0',
      content: 'Your code is 4821',
      from: 'TURUMBA',
      dlr: 'yes',
      'dlr-url': ctx.statusCallbackUrl,
      'dlr-level': '2',
      'dlr-method': 'POST',
    });
  });

  it("keeps base_url's path prefix, prefers the payload's sender and passes the optional settings", async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    await adapter.send(
      { ...payload, from: '15555' },
      credentials(`${jasmin.url}/jasmin/`, { dlr_level: '3', dlr_method: 'get', priority: '2', validity_period: '1440' }),
      ctx,
    );

    expect(jasmin.requests[0]?.url).toBe('/jasmin/send');
    expect(jasmin.requests[0]?.form).toMatchObject({
      from: '15555',
      priority: '2',
      'validity-period': '1440',
      'dlr-level': '3',
      'dlr-method': 'GET',
    });
  });

  it('sends without from when neither the payload nor the channel names a sender (the user default applies)', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));
    const { from: _omit, ...noSender } = credentials(jasmin.url);

    await adapter.send(payload, noSender, ctx);

    expect(jasmin.requests[0]?.form).not.toHaveProperty('from');
  });

  it('keeps GSM-7 text with extension characters in coding 0', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    await adapter.send({ ...payload, body: 'Pay €5 [now] {ok} ^_^ ~|\\' }, credentials(jasmin.url), ctx);

    expect(jasmin.requests[0]?.form).toMatchObject({ coding: '0', content: 'Pay €5 [now] {ok} ^_^ ~|\\' });
  });

  it('sends text outside GSM-7 as UCS-2 hex-content with coding 8', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    await adapter.send({ ...payload, body: 'Привет 👋' }, credentials(jasmin.url), ctx);

    const form = jasmin.requests[0]?.form;
    expect(form).toMatchObject({ coding: '8', 'hex-content': '041f044004380432043504420020d83ddc4b' });
    expect(form).not.toHaveProperty('content');
  });

  it('always sends UCS-2 when the channel sets coding 8', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    await adapter.send({ ...payload, body: 'Hi' }, credentials(jasmin.url, { coding: '8' }), ctx);

    expect(jasmin.requests[0]?.form).toMatchObject({ coding: '8', 'hex-content': '00480069' });
  });

  it('refuses a text Jasmin would truncate (more parts than long_content_max_parts) without calling it', async () => {
    const jasmin = await fakeJasmin((_req, res) => success(res));

    const err = await sendError(adapter.send({ ...payload, body: 'x'.repeat(5 * 153 + 1) }, credentials(jasmin.url), ctx));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err).toMatchObject({ code: 'jasmin_too_long' });
    expect((err as Error).message).toContain('needs 6 SMS parts');
    expect(jasmin.requests).toHaveLength(0);
    await expect(adapter.send({ ...payload, body: 'x'.repeat(5 * 153) }, credentials(jasmin.url), ctx)).resolves.toBeDefined();
  });

  it('refuses a message without a text body', async () => {
    const err = await sendError(adapter.send({ ...payload, body: undefined, html: '<p>hi</p>' }, credentials('http://127.0.0.1:1'), ctx));
    expect(err).toMatchObject({ code: 'jasmin_no_content', retryClass: 'permanent' });
  });

  // Bodies as jasmin/protocols/http/endpoints/send.py writes them: 'Error "%s"' % message, with the
  // messages raised in send.py, validation.py and endpoints/__init__.py.
  it.each([
    [403, 'Authentication failure for username:turumba', PermanentSendError, 'jasmin_auth'],
    [403, 'User throughput exceeded', RateLimitedError, 'jasmin_throughput'],
    [403, 'Cannot charge submit_sm, check RouterPB log file for details', PermanentSendError, 'jasmin_no_balance'],
    [400, 'Authorization failed for user [turumba] (Long content not authorized).', PermanentSendError, 'jasmin_not_authorized'],
    [400, 'Value filter failed for user [turumba] (destination_address filter mismatch).', PermanentSendError, 'jasmin_filtered'],
    [400, 'Argument [foo] is unknown.', PermanentSendError, 'jasmin_invalid'],
    [400, 'Mandatory argument [to] is not found.', PermanentSendError, 'jasmin_invalid'],
    [412, 'No route found', PermanentSendError, 'jasmin_no_route'],
    [412, 'Failover route has no bound connectors', TransientSendError, 'jasmin_no_connector'],
    [500, 'Cannot send submit_sm, check SMPPClientManagerPB log file for details', TransientSendError, 'jasmin_server_error'],
    [500, 'Unknown error: boom', TransientSendError, 'jasmin_server_error'],
    [503, 'InterceptorPB not connected !', TransientSendError, 'jasmin_unavailable'],
  ] as const)('maps HTTP %i Error "%s" to %o %s', async (status, message, errorClass, code) => {
    const jasmin = await fakeJasmin((_req, res) => text(res, status, `Error "${message}"`));

    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));

    expect(err).toBeInstanceOf(errorClass);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toContain(message);
  });

  it('waits a second before retrying a throughput refusal', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 403, 'Error "User throughput exceeded"'));
    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));
    expect(err).toMatchObject({ retryClass: 'rate_limited', retryAfterMs: 1000 });
  });

  it.each([
    [502, '<html>Bad Gateway</html>', TransientSendError, 'http_502'],
    [429, 'slow down', RateLimitedError, 'http_429'],
    [404, 'No Such Resource', PermanentSendError, 'http_404'],
  ] as const)('falls back to the HTTP status for a non-Jasmin answer %i', async (status, body, errorClass, code) => {
    const jasmin = await fakeJasmin((_req, res) => text(res, status, body, 'text/html'));

    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));

    expect(err).toBeInstanceOf(errorClass);
    expect(err).toMatchObject({ code, message: `jasmin HTTP ${status}: not a Jasmin answer` });
  });

  it('treats a 200 that is not `Success "<id>"` as a misconfigured base_url', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 200, '<html>welcome</html>', 'text/html'));
    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));
    expect(err).toMatchObject({ code: 'jasmin_bad_response', retryClass: 'permanent' });
  });

  it('never repeats the password Jasmin echoes in a validation error', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 400, `Error "Argument [password] has an invalid value: [${PASSWORD}]."`));

    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));

    expect(err).toMatchObject({
      code: 'jasmin_invalid',
      message: 'jasmin HTTP 400 (request failed validation): Argument [password] has an invalid value: [***].',
    });
  });

  it('maps a refused connection to a transient network error', async () => {
    const jasmin = await fakeJasmin(() => undefined);
    await jasmin.close();

    const err = await sendError(adapter.send(payload, credentials(jasmin.url), ctx));

    expect(err).toBeInstanceOf(TransientSendError);
    expect(err).toMatchObject({ code: 'network' });
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('gives up on a silent Jasmin after timeout_ms', async () => {
    const jasmin = await fakeJasmin(() => undefined);
    const started = Date.now();

    const err = await sendError(adapter.send(payload, credentials(jasmin.url, { timeout_ms: '200' }), ctx));

    expect(err).toMatchObject({ code: 'timeout', retryClass: 'transient' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops when the caller aborts', async () => {
    const jasmin = await fakeJasmin(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const err = await sendError(adapter.send(payload, credentials(jasmin.url), { ...ctx, signal: controller.signal }));

    expect(err).toMatchObject({ code: 'aborted', retryClass: 'transient' });
  });

  it('refuses to send with missing or malformed credentials, naming keys and never values', async () => {
    const missing = await sendError(adapter.send(payload, { base_url: 'http://127.0.0.1:1401', username: USERNAME }, ctx));
    expect(missing).toMatchObject({ code: 'missing_credentials', message: 'missing jasmin credentials: password' });

    const bad = await sendError(adapter.send(payload, credentials('http://127.0.0.1:1401', { password: 'x'.repeat(17), dlr_level: '4', coding: '3' }), ctx));
    expect(bad).toBeInstanceOf(PermanentSendError);
    expect(bad).toMatchObject({
      code: 'invalid_credentials',
      message:
        'invalid jasmin credentials: password must be at most 16 characters; coding must be 0 (GSM-7, UCS-2 when needed) or 8 (always UCS-2); dlr_level must be 1, 2 or 3',
    });
  });
});

describe('JasminSmppAdapter.verifyCredentials', () => {
  it('authenticates with GET /balance and reports the quotas', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 200, '{"balance": 100.0, "sms_count": "ND"}', 'application/json'));

    const check = await adapter.verifyCredentials(credentials(jasmin.url));

    expect(check).toEqual({ ok: true, detail: 'jasmin user turumba authenticated (balance 100, sms_count ND)' });
    const [req] = jasmin.requests;
    expect(req?.method).toBe('GET');
    const url = new URL(req?.url ?? '', jasmin.url);
    expect(url.pathname).toBe('/balance');
    expect(Object.fromEntries(url.searchParams)).toEqual({ username: USERNAME, password: PASSWORD });
  });

  it('reports bad credentials', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 403, '"Authentication failure for username:turumba"', 'application/json'));

    const check = await adapter.verifyCredentials(credentials(jasmin.url));

    expect(check).toEqual({ ok: false, detail: 'jasmin user turumba: authentication failed (jasmin_auth)' });
  });

  it('counts a user who may not read its balance as authenticated (authorization comes after login)', async () => {
    const jasmin = await fakeJasmin((_req, res) => text(res, 400, '"Authorization failed for user [turumba] (Cannot check balance)."', 'application/json'));

    const check = await adapter.verifyCredentials(credentials(jasmin.url));

    expect(check).toEqual({ ok: true, detail: 'jasmin user turumba authenticated (not allowed to read its balance)' });
  });

  it('reports an unreachable gateway without the password', async () => {
    const jasmin = await fakeJasmin(() => undefined);

    const check = await adapter.verifyCredentials(credentials(jasmin.url, { timeout_ms: '100' }));

    expect(check.ok).toBe(false);
    expect(check.detail).toBe("jasmin: no valid answer (unreachable, or not the provider's API)");
  });

  /** jookies/jasmin-api SMPPCCMViewSet.retrieve: `smppccm -s` keys plus the `smppccm -l` columns. */
  function connectorView(status: string, session: string): string {
    return JSON.stringify({
      connector: {
        cid: 'smsc1',
        host: '10.0.0.5',
        port: '2775',
        username: 'smppuser',
        password: 'smsc-pass',
        bind: 'transceiver',
        status,
        session,
        starts: '1',
        stops: '0',
      },
    });
  }

  it('adds the SMPP connector state from the management REST API', async () => {
    const jasmin = await fakeJasmin((req, res) => {
      if (req.url.startsWith('/balance')) return text(res, 200, '{"balance": "ND", "sms_count": "ND"}', 'application/json');
      text(res, 200, connectorView('started', 'BOUND_TRX'), 'application/json');
    });

    const check = await adapter.verifyCredentials(
      credentials(jasmin.url, { rest_api_url: `${jasmin.url}/`, connector_id: 'smsc1', rest_api_username: 'admin', rest_api_password: 'admin-pw' }),
    );

    expect(check).toEqual({
      ok: true,
      detail: 'jasmin user turumba authenticated (balance ND, sms_count ND); connector smsc1 started, bound (BOUND_TRX)',
    });
    const rest = jasmin.requests.find((r) => r.url.startsWith('/api/'));
    expect(rest).toMatchObject({ method: 'GET', url: '/api/smppsconns/smsc1/' });
    expect(rest?.headers.authorization).toBe(`Basic ${Buffer.from('admin:admin-pw').toString('base64')}`);
  });

  it.each([
    [200, connectorView('stopped', 'NONE'), 'connector smsc1 stopped, not bound (NONE)'],
    [200, connectorView('started', 'UNBOUND'), 'connector smsc1 started, not bound (UNBOUND)'],
    [404, '{"detail": "Unknown connector: smsc1"}', 'connector smsc1 not found'],
    [401, '{"detail": "Invalid username/password."}', 'connector smsc1: management API refused the credentials (HTTP 401)'],
    [500, '{"detail": "Connection to Jasmin timed out"}', 'connector smsc1: management API answered HTTP 500 without a connector'],
  ])('fails the check when the management API answers %i %s', async (status, body, detail) => {
    const jasmin = await fakeJasmin((req, res) => {
      if (req.url.startsWith('/balance')) return text(res, 200, '{"balance": "ND", "sms_count": "ND"}', 'application/json');
      text(res, status, body, 'application/json');
    });

    const check = await adapter.verifyCredentials(credentials(jasmin.url, { rest_api_url: jasmin.url, connector_id: 'smsc1' }));

    expect(check).toEqual({ ok: false, detail: `jasmin user turumba authenticated (balance ND, sms_count ND); ${detail}` });
    expect(jasmin.requests.find((r) => r.url.startsWith('/api/'))?.headers.authorization).toBeUndefined();
  });
  /** jasmin/protocols/http/endpoints/metrics.py output for one client connector (HELP/TYPE lines as Jasmin writes them). */
  function metrics(connects: number, binds: number, losses: number, cid = 'smsc1'): string {
    return [
      '# TYPE httpapi_request_count counter',
      '# HELP httpapi_request_count Http request count.',
      'httpapi_request_count 7',
      '# TYPE smppc_connected_count counter',
      '# HELP smppc_connected_count Cumulated number of successful connections.',
      `smppc_connected_count{cid="${cid}"} ${connects}`,
      '# TYPE smppc_disconnected_count counter',
      '# HELP smppc_disconnected_count Cumulated number of disconnections.',
      `smppc_disconnected_count{cid="${cid}"} ${losses}`,
      '# TYPE smppc_bound_count counter',
      '# HELP smppc_bound_count Number of bound sessions.',
      `smppc_bound_count{cid="${cid}"} ${binds}`,
      '',
      '',
    ].join('\n');
  }

  it.each([
    [metrics(2, 2, 1), true, 'connector smsc1 connected (/metrics: 2 connects, 2 binds, 1 disconnects)'],
    [metrics(3, 2, 3), false, 'connector smsc1 not connected (/metrics: 3 connects, 2 binds, 3 disconnects)'],
    [metrics(1, 0, 0), false, 'connector smsc1 connected (/metrics: 1 connects, 0 binds, 0 disconnects)'],
    [metrics(1, 1, 0, 'other'), false, 'connector smsc1 not found in /metrics'],
  ])("without a management API, reads the connector from Jasmin's /metrics (case %#)", async (body, ok, detail) => {
    const jasmin = await fakeJasmin((req, res) => {
      if (req.url.startsWith('/balance')) return text(res, 200, '{"balance": "ND", "sms_count": "ND"}', 'application/json');
      text(res, 200, body);
    });

    const check = await adapter.verifyCredentials(credentials(jasmin.url, { connector_id: 'smsc1' }));

    expect(check).toEqual({ ok, detail: `jasmin user turumba authenticated (balance ND, sms_count ND); ${detail}` });
    expect(jasmin.requests.map((r) => `${r.method} ${r.url.split('?')[0] ?? ''}`)).toEqual(['GET /balance', 'GET /metrics']);
  });
});

/** Our side of Jasmin's DLR call: the engine's dlr-url (message_id + token) plus what DLRThrower adds. */
function dlr(
  fields: Record<string, string>,
  method: 'POST' | 'GET' = 'POST',
  query = { message_id: MESSAGE_ID, token: callbackToken(WEBHOOK_SECRET, MESSAGE_ID) },
): WebhookRequest {
  const search = new URLSearchParams(method === 'GET' ? { ...query, ...fields } : query).toString();
  const raw = method === 'POST' ? new URLSearchParams(fields).toString() : '';
  return {
    method,
    url: `https://dispatch.example.com/webhooks/smpp/ch_1?${search}`,
    headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Jasmin gateway/1.0 DLRThrower' } : {},
    rawBody: Buffer.from(raw),
    body: method === 'POST' ? fields : {},
    query: Object.fromEntries(new URLSearchParams(search)),
  };
}

// Field sets of jasmin/routing/throwers.py DLRThrower.http_dlr_callback (Jasmin 0.11.0 and 0.11.1): id, level,
// message_status, connector always; id_smsc, sub, dlvrd, subdate, donedate, err, text for level 2.
// The level is the receipt's own (1 or 2), also when dlr-level 3 asked for both (jasmin/managers/dlr.py).
const level1 = (status: string): Record<string, string> => ({ id: JASMIN_ID, level: '1', message_status: status, connector: 'smsc1' });
const level2 = (status: string, err = '000', extra: Record<string, string> = {}): Record<string, string> => ({
  id: JASMIN_ID,
  level: '2',
  message_status: status,
  // Jasmin 0.11 fills `connector` of a terminal receipt with the receipt's own id (dlr.py: dlr_connector=pdu_dlr_id).
  connector: '4E2CBDA5',
  id_smsc: '4E2CBDA5',
  sub: '001',
  dlvrd: status === 'DELIVRD' ? '001' : '000',
  subdate: '2302151228',
  donedate: '2302151229',
  err,
  text: 'Your code is 4821',
  ...extra,
});

describe('JasminSmppAdapter.parseStatusUpdates', () => {
  it('reads a terminal DELIVRD receipt, our message id from the dlr-url and the done date', () => {
    expect(adapter.parseStatusUpdates(dlr(level2('DELIVRD')))).toEqual([
      { providerMessageId: JASMIN_ID, messageId: MESSAGE_ID, status: 'delivered', occurredAt: new Date('2023-02-15T12:29:00Z') },
    ]);
  });

  it('reads the same receipt thrown with dlr-method GET (fields in the query string)', () => {
    expect(adapter.parseStatusUpdates(dlr(level2('DELIVRD'), 'GET'))).toEqual([
      { providerMessageId: JASMIN_ID, messageId: MESSAGE_ID, status: 'delivered', occurredAt: new Date('2023-02-15T12:29:00Z') },
    ]);
  });

  it.each([
    ['UNDELIV', '001', 'undelivered', '001'],
    ['EXPIRED', '000', 'undelivered', 'EXPIRED'],
    ['DELETED', 'ND', 'undelivered', 'DELETED'],
    ['REJECTD', '045', 'failed', '045'],
  ])('maps receipt %s (err %s) to %s with error code %s', (stat, err, status, errorCode) => {
    const [update] = adapter.parseStatusUpdates(dlr(level2(stat, err)));
    expect(update).toMatchObject({ status, errorCode, errorMessage: `SMSC receipt ${stat}${errorCode === err ? ` (err ${err})` : ''}` });
  });

  it.each([
    ['ACCEPTD', 'sent'],
    ['ENROUTE', 'sent'],
    // Not final: a later DELIVRD must still be able to end the message delivered.
    ['UNKNOWN', 'sent'],
  ])('maps the intermediate receipt %s to %s without an error', (stat, status) => {
    const [update] = adapter.parseStatusUpdates(dlr(level2(stat)));
    expect(update?.status).toBe(status);
    expect(update?.errorCode).toBeUndefined();
  });

  it('maps the SMSC-level receipt ESME_ROK to sent, with no provider time (timed on arrival)', () => {
    const [update] = adapter.parseStatusUpdates(dlr(level1('ESME_ROK')));
    expect(update).toMatchObject({ providerMessageId: JASMIN_ID, messageId: MESSAGE_ID, status: 'sent' });
    expect(update?.errorCode).toBeUndefined();
    expect(update?.occurredAt).toBeUndefined();
  });

  it('fails the message on a submit_sm_resp error the SMSC will not take back', () => {
    expect(adapter.parseStatusUpdates(dlr(level1('ESME_RINVDSTADR')))[0]).toMatchObject({
      status: 'failed',
      errorCode: 'ESME_RINVDSTADR',
      errorMessage: 'SMSC refused the submit_sm: ESME_RINVDSTADR',
    });
  });

  it.each(['ESME_RTHROTTLED', 'ESME_RMSGQFUL', 'ESME_RSYSERR', 'ESME_RINVSCHED'])(
    'keeps %s (which Jasmin resubmits itself) at sent, with the code for the log',
    (stat) => {
      expect(adapter.parseStatusUpdates(dlr(level1(stat)))[0]).toMatchObject({ status: 'sent', errorCode: stat });
    },
  );

  it('accepts a done date with seconds and ignores one that is no date', () => {
    expect(adapter.parseStatusUpdates(dlr(level2('DELIVRD', '000', { donedate: '230215122959' })))[0]?.occurredAt).toEqual(new Date('2023-02-15T12:29:59Z'));
    const [update] = adapter.parseStatusUpdates(dlr(level2('DELIVRD', '000', { donedate: '2302301229' })));
    expect(update?.status).toBe('delivered');
    expect(update?.occurredAt).toBeUndefined();
  });

  it('rejects an unknown status, a receipt without id and a body that is not form fields', () => {
    expect(() => adapter.parseStatusUpdates(dlr(level2('EXPLODED')))).toThrow(WebhookPayloadError);
    const { id: _omit, ...noId } = level2('DELIVRD');
    expect(() => adapter.parseStatusUpdates(dlr(noId))).toThrow(WebhookPayloadError);
    expect(() => adapter.parseStatusUpdates({ ...dlr(level2('DELIVRD')), body: 'id=x&message_status=DELIVRD' })).toThrow(WebhookPayloadError);
  });

  it('has no inbound messages to parse', () => {
    expect(adapter.parseInbound(dlr(level2('DELIVRD')))).toEqual([]);
  });
});

describe('JasminSmppAdapter.verifyWebhookSignature (callback token)', () => {
  const good = dlr(level2('DELIVRD'));

  it('accepts the token the engine put in the dlr-url', () => {
    expect(adapter.verifyWebhookSignature(good, WEBHOOK_SECRET)).toBe(true);
    expect(adapter.verifyWebhookSignature(dlr(level2('DELIVRD'), 'GET'), WEBHOOK_SECRET)).toBe(true);
  });

  it.each([
    ['a wrong token', { message_id: MESSAGE_ID, token: callbackToken('other-secret', MESSAGE_ID) }],
    ["another message's token", { message_id: MESSAGE_ID, token: callbackToken(WEBHOOK_SECRET, 'another-id') }],
    ['no token', { message_id: MESSAGE_ID }],
    ['no message id', { token: callbackToken(WEBHOOK_SECRET, MESSAGE_ID) }],
  ])('rejects %s', (_name, query) => {
    expect(adapter.verifyWebhookSignature({ ...good, query }, WEBHOOK_SECRET)).toBe(false);
  });

  it('rejects the right token under another secret, an empty secret, and repeated parameters', () => {
    expect(adapter.verifyWebhookSignature(good, 'rotated-secret')).toBe(false);
    expect(adapter.verifyWebhookSignature(good, '')).toBe(false);
    const repeated = { ...good, query: { message_id: MESSAGE_ID, token: [callbackToken(WEBHOOK_SECRET, MESSAGE_ID)] } } as unknown as WebhookRequest;
    expect(adapter.verifyWebhookSignature(repeated, WEBHOOK_SECRET)).toBe(false);
  });
});

describe('JasminSmppAdapter webhook plumbing and channel checks', () => {
  it.each<WebhookKind>(['status', 'inbound', 'empty'])('answers %s callbacks with exactly ACK/Jasmin', (kind) => {
    expect(adapter.webhookResponse(kind)).toEqual({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'ACK/Jasmin' });
  });

  it('registers as smpp/jasmin at 50 messages a second, needing the HTTP API login', () => {
    expect(adapter).toMatchObject({ channelType: 'smpp', provider: 'jasmin', defaultRateLimitPerSecond: 50 });
    expect(adapter.requiredCredentials).toEqual(['base_url', 'username', 'password']);
    expect('webhookSigningSecret' in adapter).toBe(false);
  });

  it('accepts international numbers with or without +', () => {
    expect(adapter.validateAddress('+255712345678')).toBeUndefined();
    expect(adapter.validateAddress('255712345678')).toBeUndefined();
    expect(adapter.validateAddress('0712345678')).toMatch(/international number/);
    expect(adapter.validateAddress('+2557123x5678')).toMatch(/international number/);
    expect(adapter.validateAddress('+1234')).toMatch(/international number/);
  });
});

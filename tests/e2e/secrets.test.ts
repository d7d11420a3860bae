import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../../sandbox/email/server';
import { startGraphSimulator, type GraphSimApp, type GraphSimulator } from '../../sandbox/graph/server';
import { startJasminSimulator, type JasminSimulator } from '../../sandbox/jasmin/server';
import { eventually, startStack, type TestStack } from '../support/stack';

// Every credential value is distinctive, so a substring search over logs and bodies finds any leak.
const WHATSAPP: GraphSimApp = { accessToken: 'wa-access-token-5f1c9e', appSecret: 'wa-app-secret-8d2b7a', phoneNumberId: '106540352242922' };
const MESSENGER: GraphSimApp = { accessToken: 'page-access-token-3e8f1d', appSecret: 'page-app-secret-9c4a2b', pageId: '104752838726392' };
const SMTP = { user: 'dispatch', password: 'smtp-password-7b3e5c' };
// Jasmin caps passwords at 16 characters.
const JASMIN = { username: 'turumba', password: 'jasmin-pw-2a9d4f' };
const JASMIN_ADMIN = { username: 'admin', password: 'jasmin-admin-password-6f1b8e' };
const WRONG = {
  authToken: 'wrong-auth-token-4c7e2a',
  apiSecret: 'wrong-api-secret-1d5f9b',
  smtpPassword: 'wrong-smtp-password-8e2c6d',
  jasminPassword: 'wrong-jpw-3b7a1f',
};

interface Recorded {
  method: string;
  path: string;
  status: number;
  body: string;
}

describe('no credential or secret in any log line or API response of a full run', () => {
  let stack: TestStack;
  let graph: GraphSimulator;
  let smtp: SmtpSink;
  let jasmin: JasminSimulator;
  const responses: Recorded[] = [];
  /** channel id → the webhook_secret its create call returned (the one place it may appear). */
  const webhookSecrets = new Map<string, string>();

  beforeAll(async () => {
    stack = await startStack({ env: { DELIVERY_WAIT_SECONDS: '5' } });
    graph = await startGraphSimulator({ apps: [WHATSAPP, MESSENGER], callbackDelayMs: 50 });
    smtp = await startSmtpSink({ users: { [SMTP.user]: SMTP.password } });
    jasmin = await startJasminSimulator({ users: [JASMIN], managementUsers: [JASMIN_ADMIN], dlrDelayMs: 30 });
  });
  afterAll(async () => {
    await graph?.close();
    await smtp?.close();
    await jasmin?.close();
    await stack?.close();
  });

  /** Every API call of the run goes through here, so every body it answered can be searched. */
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    responses.push({ method, path, status: res.status, body: text });
    return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  const createChannel = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/v1/channels', body);
    expect(res.status).toBe(201);
    const created = res.json() as { id: string; webhook_url: string; webhook_secret: string };
    webhookSecrets.set(created.id, created.webhook_secret);
    return created;
  };
  const send = async (channelId: string, content: Record<string, unknown>) => {
    const res = await api('POST', '/v1/messages', { channel_id: channelId, ...content });
    expect(res.status).toBe(202);
    return res.json().id as string;
  };
  const settled = (id: string, statuses: string[]) =>
    eventually(
      async () => {
        const res = await api('GET', `/v1/messages/${id}`);
        const m = res.json();
        return statuses.includes(m.status as string) ? m : undefined;
      },
      30_000,
      200,
    );

  it('runs every channel type through create, verify, send, webhooks and failures', async () => {
    const twilio = stack.twilioAccount;
    const sms = await createChannel({
      channel_type: 'sms',
      provider: 'twilio',
      name: 'sms',
      credentials: {
        account_sid: twilio.sid,
        api_key: twilio.apiKey,
        api_secret: twilio.apiSecret,
        auth_token: twilio.authToken,
        from: '+15017122661',
        base_url: stack.twilio.url,
      },
    });
    const smsWrong = await createChannel({
      channel_type: 'sms',
      provider: 'twilio',
      name: 'sms with revoked credentials',
      credentials: {
        account_sid: twilio.sid,
        api_key: twilio.apiKey,
        api_secret: WRONG.apiSecret,
        auth_token: WRONG.authToken,
        from: '+15017122661',
        base_url: stack.twilio.url,
      },
    });
    const whatsapp = await createChannel({
      channel_type: 'whatsapp',
      name: 'whatsapp',
      credentials: { access_token: WHATSAPP.accessToken, phone_number_id: WHATSAPP.phoneNumberId, app_secret: WHATSAPP.appSecret, base_url: graph.url },
    });
    graph.setWebhook('whatsapp', WHATSAPP.phoneNumberId ?? '', whatsapp.webhook_url);
    const messenger = await createChannel({
      channel_type: 'messenger',
      name: 'messenger',
      credentials: { page_access_token: MESSENGER.accessToken, app_secret: MESSENGER.appSecret, page_id: MESSENGER.pageId, base_url: graph.url },
    });
    graph.setWebhook('messenger', MESSENGER.pageId ?? '', messenger.webhook_url);
    const smtpCredentials = {
      host: smtp.host,
      port: String(smtp.port),
      username: SMTP.user,
      from_address: 'no-reply@turumba.test',
      tls_reject_unauthorized: 'false',
    };
    const email = await createChannel({ channel_type: 'email', name: 'email', credentials: { ...smtpCredentials, password: SMTP.password } });
    const emailWrong = await createChannel({
      channel_type: 'email',
      name: 'email, wrong password',
      credentials: { ...smtpCredentials, password: WRONG.smtpPassword },
    });
    const jasminCredentials = {
      base_url: jasmin.url,
      username: JASMIN.username,
      from: 'TURUMBA',
      rest_api_url: jasmin.url,
      connector_id: 'smsc1',
      rest_api_username: JASMIN_ADMIN.username,
      rest_api_password: JASMIN_ADMIN.password,
    };
    const smpp = await createChannel({
      channel_type: 'smpp',
      provider: 'jasmin',
      name: 'smpp',
      credentials: { ...jasminCredentials, password: JASMIN.password },
    });
    const smppWrong = await createChannel({
      channel_type: 'smpp',
      provider: 'jasmin',
      name: 'smpp, wrong password',
      credentials: { ...jasminCredentials, password: WRONG.jasminPassword },
    });
    const channels = [sms, smsWrong, whatsapp, messenger, email, emailWrong, smpp, smppWrong];

    // Verify: good and bad credentials, every adapter's error path.
    const verified = await Promise.all(channels.map(async (c) => [c.id, (await api('POST', `/v1/channels/${c.id}/verify`)).json()] as const));
    expect(Object.fromEntries(verified.map(([id, v]) => [id, v.ok]))).toEqual({
      [sms.id]: true,
      [smsWrong.id]: false,
      [whatsapp.id]: true,
      [messenger.id]: true,
      [email.id]: true,
      [emailWrong.id]: false,
      [smpp.id]: true,
      [smppWrong.id]: false,
    });
    for (const c of channels) expect((await api('GET', `/v1/channels/${c.id}`)).status).toBe(200);

    // Sends that succeed, with their provider callbacks.
    expect((await graph.simulateInbound('whatsapp', '+16505550111', 'hello')).httpStatus).toBe(200);
    expect((await graph.simulateInbound('messenger', '6505550222', 'hello')).httpStatus).toBe(200);
    const ok = await Promise.all([
      send(sms.id, { to: '+15551239001', body: 'sms body' }),
      send(whatsapp.id, { to: '+16505550111', body: 'whatsapp body' }),
      send(messenger.id, { to: '6505550222', body: 'messenger body' }),
      send(email.id, { to: 'someone@example.test', subject: 'hi', body: 'email body' }),
      send(smpp.id, { to: '+254712345678', body: 'smpp body' }),
    ]);
    await Promise.all(ok.map((id) => settled(id, ['sent', 'delivered', 'read'])));

    // Sends that fail on credentials, on the provider's validation and on a provider 5xx/429.
    const failing = await Promise.all([
      send(smsWrong.id, { to: '+15551239002', body: 'x' }),
      send(emailWrong.id, { to: 'someone@example.test', subject: 'hi', body: 'x' }),
      send(smppWrong.id, { to: '+254712345679', body: 'x' }),
      send(sms.id, { to: '+15005550001', body: 'x' }),
    ]);
    await Promise.all(failing.map((id) => settled(id, ['failed'])));
    const retried = await send(sms.id, { to: '+15005550500', body: 'x' });
    await settled(retried, ['sent', 'delivered']);

    // Webhooks the API refuses, and ones it accepts from us.
    for (const c of channels) {
      expect((await api('POST', `/webhooks/${c.webhook_url.split('/webhooks/')[1]?.split('/')[0]}/${c.id}`, '{"bogus":true}')).status).toBe(401);
    }
    const inbound = JSON.stringify({ object: 'page', entry: [{ id: MESSENGER.pageId, time: Date.now(), messaging: [] }] });
    const signed = await api('POST', `/webhooks/messenger/${messenger.id}`, inbound, {
      'x-hub-signature-256': `sha256=${createHmac('sha256', MESSENGER.appSecret).update(inbound).digest('hex')}`,
    });
    expect(signed.status).toBe(200);
    const handshake = await fetch(
      `${whatsapp.webhook_url}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(webhookSecrets.get(whatsapp.id) ?? '')}&hub.challenge=42`,
    );
    expect(handshake.status).toBe(200);
    expect((await api('GET', `/webhooks/whatsapp/${whatsapp.id}?hub.mode=subscribe&hub.verify_token=guessed&hub.challenge=42`)).status).toBe(403);

    // Reads and client errors.
    for (const id of [...ok, ...failing, retried]) {
      expect((await api('GET', `/v1/messages/${id}`)).status).toBe(200);
      expect((await api('GET', `/v1/messages/${id}/events`)).status).toBe(200);
    }
    expect((await api('GET', `/v1/messages?limit=50`)).status).toBe(200);
    expect((await api('POST', '/v1/messages', { channel_id: sms.id, to: 'not-a-number', body: 'x' })).status).toBe(400);
    expect(
      (await api('POST', '/v1/channels', { channel_type: 'sms', name: 'bad', credentials: { auth_token: 'leaky-token-in-a-bad-request' }, bogus: 1 })).status,
    ).toBe(400);
    expect((await api('GET', '/v1/messages/x', undefined, { authorization: 'Bearer tdk_000000000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })).status).toBe(401);
    expect((await api('POST', `/v1/messages/${ok[0]}/replay`)).status).toBe(409);
    expect((await api('POST', `/v1/messages/${failing[0]}/replay`)).status).toBe(202);
    await settled(failing[0] ?? '', ['failed']);

    // Credentials went over the wire to the providers (so the run used them)...
    expect(graph.requests.some((r) => r.headers.authorization === `Bearer ${WHATSAPP.accessToken}`)).toBe(true);
    expect(smtp.receivedFor('someone@example.test').length).toBeGreaterThan(0);
  });

  it('left no secret in any log line, and none in any response but the one-time webhook_secret', () => {
    const twilio = stack.twilioAccount;
    const secrets: Record<string, string> = {
      'twilio api_secret': twilio.apiSecret,
      'twilio auth_token': twilio.authToken,
      'twilio api_key': twilio.apiKey,
      'whatsapp access_token': WHATSAPP.accessToken,
      'whatsapp app_secret': WHATSAPP.appSecret,
      'messenger page_access_token': MESSENGER.accessToken,
      'messenger app_secret': MESSENGER.appSecret,
      'smtp password': SMTP.password,
      'jasmin password': JASMIN.password,
      'jasmin rest_api_password': JASMIN_ADMIN.password,
      'wrong auth_token': WRONG.authToken,
      'wrong api_secret': WRONG.apiSecret,
      'wrong smtp password': WRONG.smtpPassword,
      'wrong jasmin password': WRONG.jasminPassword,
      'token in a bad request': 'leaky-token-in-a-bad-request',
      'our API key': stack.apiKey,
      ...Object.fromEntries([...webhookSecrets].map(([id, secret]) => [`webhook_secret of ${id}`, secret])),
    };
    expect(webhookSecrets.size).toBe(8);
    expect(stack.logs.length).toBeGreaterThan(50);
    expect(responses.length).toBeGreaterThan(50);

    const leaks: string[] = [];
    for (const line of stack.logs) {
      const text = JSON.stringify(line);
      for (const [name, value] of Object.entries(secrets)) if (text.includes(value)) leaks.push(`log ${String(line.event)}: ${name}`);
    }
    for (const r of responses) {
      const allowed =
        r.method === 'POST' && r.path === '/v1/channels' && r.status === 201 ? (JSON.parse(r.body) as { webhook_secret: string }).webhook_secret : undefined;
      for (const [name, value] of Object.entries(secrets)) {
        if (value !== allowed && r.body.includes(value)) leaks.push(`${r.method} ${r.path} ${r.status}: ${name}`);
      }
    }
    expect(leaks).toEqual([]);
    // The create responses did carry the secret (once each), and credentials never.
    const creates = responses.filter((r) => r.path === '/v1/channels' && r.status === 201).map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(creates).toHaveLength(8);
    for (const c of creates) {
      expect(c.webhook_secret).toEqual(expect.any(String));
      expect(c).not.toHaveProperty('credentials');
    }
  });
});

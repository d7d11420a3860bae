import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { selfSignedCertificate, type SelfSigned } from '../../sandbox/email/certs';
import { startSmtpSink, type SmtpSink } from '../../sandbox/email/server';
import { PermanentSendError, RateLimitedError, TransientSendError, type Credentials, type DispatchPayload, type SendContext } from '../types';
import { EmailAdapter } from './email';
import { SMTP_RATE_LIMIT_RETRY_MS } from './smtp-errors';
import { EgressPolicy } from '../egress';

/** The simulators listen on 127.0.0.1, which the policy refuses unless allowed. */
const LOOPBACK = EgressPolicy.fromList('127.0.0.1');

const PASSWORD = 'smtp-password-do-not-log';
const MESSAGE_ID = '01930a4e-5b6c-7d8e-9f01-23456789abcd';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

let tls: SelfSigned;
let sink: SmtpSink;
let adapter: EmailAdapter;

beforeAll(async () => {
  tls = selfSignedCertificate();
  sink = await startSmtpSink({ users: { mailer: PASSWORD }, tls });
});
afterAll(async () => {
  await sink.close();
});
afterEach(() => {
  adapter.close();
});

function fresh(): EmailAdapter {
  adapter = new EmailAdapter(Date.now, LOOPBACK);
  return adapter;
}

function creds(over: Record<string, string | undefined> = {}, server: { host: string; port: number } = sink): Credentials {
  return {
    host: server.host,
    port: String(server.port),
    username: 'mailer',
    password: PASSWORD,
    from_address: 'no-reply@turumba.test',
    from_name: 'Turumba "Alerts"',
    reply_to: 'support@turumba.test',
    tls_reject_unauthorized: 'false',
    timeout_ms: '3000',
    ...over,
  };
}

const ctx: SendContext = { traceId: TRACE_ID, statusCallbackUrl: 'http://127.0.0.1/unused' };

function payload(to: string, over: Partial<DispatchPayload> = {}): DispatchPayload {
  return { messageId: MESSAGE_ID, to, subject: 'Your receipt', body: 'Thanks for your order.', ...over };
}

async function sendError(p: Promise<unknown>): Promise<Error & { code?: string; retryClass?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string; retryClass?: string };
  }
  throw new Error('expected the send to fail');
}

describe('EmailAdapter.send over SMTP (real smtp-server, STARTTLS + AUTH)', () => {
  it('sends html + text with our headers, over TLS, logged in', async () => {
    const a = fresh();
    const to = 'ada@example.test';
    const html = '<h1>Receipt</h1><p>Total: <b>12&nbsp;€</b></p><p><a href="https://turumba.test/r/1">View order</a></p>';
    const result = await a.send(payload(to, { body: undefined, html }), creds(), ctx);

    expect(result).toMatchObject({ providerMessageId: `<${MESSAGE_ID}@turumba.test>`, status: 'sent' });
    const [mail] = sink.receivedFor(to);
    expect(mail).toBeDefined();
    expect(mail?.secure).toBe(true);
    expect(mail?.user).toBe('mailer');
    expect(mail?.from).toBe('no-reply@turumba.test');
    expect(mail?.to).toEqual([to]);
    const p = mail!.parsed;
    expect(p.from?.value).toEqual([{ name: 'Turumba "Alerts"', address: 'no-reply@turumba.test' }]);
    expect(p.to && !Array.isArray(p.to) ? p.to.value : undefined).toEqual([{ name: '', address: to }]);
    expect(p.replyTo?.value).toEqual([{ name: '', address: 'support@turumba.test' }]);
    expect(p.subject).toBe('Your receipt');
    expect(p.messageId).toBe(`<${MESSAGE_ID}@turumba.test>`);
    expect(p.headers.get('x-trace-id')).toBe(TRACE_ID);
    expect(p.headers.get('x-turumba-message-id')).toBe(MESSAGE_ID);
    expect(p.headers.has('x-smtpapi')).toBe(false);
    expect(p.html).toBe(html);
    expect(p.text?.trim()).toBe('Receipt\n\nTotal: 12 €\n\nView order (https://turumba.test/r/1)');
    expect(String(p.headers.get('content-type') && (p.headers.get('content-type') as { value: string }).value)).toBe('multipart/alternative');
    expect(mail!.raw.toString('utf8')).not.toContain(PASSWORD);
  });

  it('sends body + html as the two alternatives, body verbatim', async () => {
    const a = fresh();
    const to = 'both@example.test';
    await a.send(payload(to, { body: 'Plain version', html: '<p>HTML version</p>' }), creds(), ctx);
    const p = sink.receivedFor(to)[0]!.parsed;
    expect(p.text?.trim()).toBe('Plain version');
    expect(p.html).toBe('<p>HTML version</p>');
  });

  it('sends a text-only message when there is no html', async () => {
    const a = fresh();
    const to = 'plain@example.test';
    await a.send(payload(to), creds({ from_name: undefined, reply_to: undefined }), ctx);
    const p = sink.receivedFor(to)[0]!.parsed;
    expect(p.html).toBe(false);
    expect(p.text?.trim()).toBe('Thanks for your order.');
    expect(p.from?.value).toEqual([{ name: '', address: 'no-reply@turumba.test' }]);
    expect(p.replyTo).toBeUndefined();
    expect((p.headers.get('content-type') as { value: string }).value).toBe('text/plain');
  });

  it('tags the message for the events provider (SendGrid unique_args, SES message tag)', async () => {
    const a = fresh();
    await a.send(payload('sg@example.test'), creds({ events_provider: 'sendgrid' }), ctx);
    await a.send(payload('ses@example.test'), creds({ events_provider: 'ses', ses_configuration_set: 'turumba-events' }), ctx);
    const sg = sink.receivedFor('sg@example.test')[0]!.parsed.headers;
    expect(JSON.parse(sg.get('x-smtpapi') as string)).toEqual({ unique_args: { turumba_message_id: MESSAGE_ID } });
    const ses = sink.receivedFor('ses@example.test')[0]!.parsed.headers;
    expect(ses.get('x-ses-message-tags')).toBe(`turumba_message_id=${MESSAGE_ID}`);
    expect(ses.get('x-ses-configuration-set')).toBe('turumba-events');
  });

  it('uses message_id_domain for the Message-ID when set', async () => {
    const a = fresh();
    const r = await a.send(payload('domain@example.test'), creds({ message_id_domain: 'mail.turumba.test' }), ctx);
    expect(r.providerMessageId).toBe(`<${MESSAGE_ID}@mail.turumba.test>`);
    expect(sink.receivedFor('domain@example.test')[0]!.parsed.messageId).toBe(`<${MESSAGE_ID}@mail.turumba.test>`);
  });

  it('reuses one pooled, authenticated connection for consecutive sends', async () => {
    const a = fresh();
    const before = sink.connections;
    for (const n of [1, 2, 3]) await a.send(payload(`pool${n}@example.test`), creds(), ctx);
    expect(sink.connections - before).toBe(1);
  });

  it('refused login → PermanentSendError smtp_auth_failed, password nowhere in the error', async () => {
    const a = fresh();
    const err = await sendError(a.send(payload('auth@example.test'), creds({ password: 'wrong-password-value' }), ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.code).toBe('smtp_auth_failed');
    expect(err.message).toMatch(/535/);
    expect(JSON.stringify({ m: err.message, s: err.stack })).not.toMatch(/wrong-password-value|do-not-log/);
    expect(sink.authFailures).toContain('mailer');
    expect(sink.receivedFor('auth@example.test')).toHaveLength(0);
  });

  it('550 at RCPT → PermanentSendError smtp_550 with the server text', async () => {
    const a = fresh();
    const err = await sendError(a.send(payload('reject-550@example.test'), creds(), ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.code).toBe('smtp_550');
    expect(err.message).toMatch(/RCPT TO.*550 5\.1\.1/);
  });

  it('553 at RCPT and 554 after DATA are permanent too', async () => {
    const a = fresh();
    expect(await sendError(a.send(payload('reject-553@example.test'), creds(), ctx))).toMatchObject({ code: 'smtp_553', retryClass: 'permanent' });
    expect(await sendError(a.send(payload('reject-554@example.test'), creds(), ctx))).toMatchObject({ code: 'smtp_554', retryClass: 'permanent' });
  });

  it('451 → TransientSendError smtp_451; the retry goes through', async () => {
    const a = fresh();
    const to = 'defer-451-a@example.test';
    const err = await sendError(a.send(payload(to), creds(), ctx));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err.code).toBe('smtp_451');
    await expect(a.send(payload(to), creds(), ctx)).resolves.toMatchObject({ status: 'sent' });
    expect(sink.receivedFor(to)).toHaveLength(1);
  });

  it('421 "too many" → RateLimitedError smtp_421 with the default wait', async () => {
    const a = fresh();
    const err = await sendError(a.send(payload('throttle-421-a@example.test'), creds(), ctx));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({ code: 'smtp_421', retryAfterMs: SMTP_RATE_LIMIT_RETRY_MS });
  });

  it('connection refused → TransientSendError', async () => {
    const a = fresh();
    const port = await closedPort();
    const err = await sendError(a.send(payload('nobody@example.test'), creds({}, { host: '127.0.0.1', port }), ctx));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err.code).toMatch(/^smtp_(connection|socket)$/);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('a server that never greets → TransientSendError smtp_timeout', async () => {
    const a = fresh();
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const err = await sendError(a.send(payload('nobody@example.test'), creds({ timeout_ms: '300' }, { host: '127.0.0.1', port }), ctx));
      expect(err).toBeInstanceOf(TransientSendError);
      expect(err.code).toBe('smtp_timeout');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });

  it('verifies the certificate by default: a self-signed one is a permanent TLS failure', async () => {
    const a = fresh();
    const err = await sendError(a.send(payload('tls@example.test'), creds({ tls_reject_unauthorized: undefined }), ctx));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.code).toBe('smtp_tls_certificate');
  });

  it('require_tls refuses a server that does not offer STARTTLS; without it the message goes (no AUTH in plaintext)', async () => {
    const plain = await startSmtpSink({ hideStartTls: true, tls });
    try {
      const a = fresh();
      const server = { host: plain.host, port: plain.port };
      const err = await sendError(a.send(payload('rt@example.test'), creds({ require_tls: 'true', username: undefined, password: undefined }, server), ctx));
      expect(err.retryClass).toBe('permanent');
      expect(plain.received).toHaveLength(0);
      await a.send(payload('rt@example.test'), creds({ username: undefined, password: undefined }, server), ctx);
      expect(plain.received[0]?.secure).toBe(false);
    } finally {
      await plain.close();
    }
  });

  it("secure='true' speaks implicit TLS (SMTPS)", async () => {
    const smtps = await startSmtpSink({ secure: true, users: { mailer: PASSWORD }, tls });
    try {
      const a = fresh();
      await a.send(payload('smtps@example.test'), creds({ secure: 'true' }, smtps), ctx);
      expect(smtps.received[0]).toMatchObject({ secure: true, user: 'mailer' });
    } finally {
      await smtps.close();
    }
  });

  it('refuses before connecting: no subject, no body, a bad recipient, bad credentials', async () => {
    const a = fresh();
    const before = sink.connections;
    expect(await sendError(a.send(payload('x@example.test', { subject: '  ' }), creds(), ctx))).toMatchObject({
      code: 'missing_subject',
      retryClass: 'permanent',
    });
    expect(await sendError(a.send(payload('x@example.test', { body: undefined }), creds(), ctx))).toMatchObject({ code: 'missing_body' });
    expect(await sendError(a.send(payload('x@example.test', { body: undefined, template: { name: 'welcome' } }), creds(), ctx))).toMatchObject({
      code: 'missing_body',
      message: expect.stringMatching(/templates are not supported/) as unknown,
    });
    expect(await sendError(a.send(payload('a@example.test, b@example.test'), creds(), ctx))).toMatchObject({ code: 'invalid_address' });
    expect(await sendError(a.send(payload('x@example.test'), creds({ port: 'smtp' }), ctx))).toMatchObject({ code: 'invalid_credentials' });
    expect(await sendError(a.send(payload('x@example.test'), creds({ password: undefined }), ctx))).toMatchObject({ code: 'invalid_credentials' });
    expect(sink.connections).toBe(before);
  });
});

describe('EmailAdapter pooled SMTP connections', () => {
  const codesFor = (to: string) => sink.rcptAttempts.filter((a) => a.to === to).map((a) => a.code);

  it('a warm connection the server ends with "421 Idle timeout": the message goes once, over a new connection', async () => {
    const a = fresh();
    await a.send(payload('warm-1@example.test'), creds(), ctx);
    const before = sink.connections;
    const to = 'stale-421-a@example.test';
    await expect(a.send(payload(to), creds(), ctx)).resolves.toMatchObject({ status: 'sent' });
    expect(codesFor(to)).toEqual([421, 250]);
    expect(sink.receivedFor(to)).toHaveLength(1);
    expect(sink.connections - before).toBe(1);
  });

  it('the same 421 on a connection opened for the send is reported, not tried again', async () => {
    const a = fresh();
    const to = 'stale-421-b@example.test';
    const err = await sendError(a.send(payload(to), creds(), ctx));
    expect(err).toBeInstanceOf(TransientSendError);
    expect(err.code).toBe('smtp_421');
    expect(codesFor(to)).toEqual([421]);
  });

  it('a throttling 421 on a warm connection is a rate limit, and the server sees the message once', async () => {
    const a = fresh();
    await a.send(payload('warm-2@example.test'), creds(), ctx);
    const to = 'throttle-421-b@example.test';
    const err = await sendError(a.send(payload(to), creds(), ctx));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.code).toBe('smtp_421');
    expect(codesFor(to)).toEqual([421]);
    // The server closed that session; the next send gets a new one.
    await expect(a.send(payload('after-throttle@example.test'), creds(), ctx)).resolves.toMatchObject({ status: 'sent' });
  });

  it('connections the server cut while idle are replaced, and nothing is sent twice', async () => {
    const a = fresh();
    await a.send(payload('warm-3@example.test'), creds(), ctx);
    sink.dropConnections();
    const to = 'after-drop@example.test';
    await expect(a.send(payload(to), creds(), ctx)).resolves.toMatchObject({ status: 'sent' });
    expect(codesFor(to)).toEqual([250]);
    expect(sink.receivedFor(to)).toHaveLength(1);
  });

  it('20 sends at once share at most 5 connections, and each message arrives once', async () => {
    const a = fresh();
    const before = sink.connections;
    const tos = Array.from({ length: 20 }, (_, i) => `burst-${i}@example.test`);
    const results = await Promise.all(tos.map((to) => a.send(payload(to), creds(), ctx)));
    expect(results.map((r) => r.status)).toEqual(tos.map(() => 'sent'));
    expect(sink.connections - before).toBeLessThanOrEqual(5);
    for (const to of tos) expect(sink.receivedFor(to)).toHaveLength(1);
  });

  it('a connection is closed after 100 messages, and an unused one after half the timeout', async () => {
    const a = fresh();
    const before = sink.connections;
    for (let i = 0; i < 101; i++) await a.send(payload(`batch-${i}@example.test`), creds({ timeout_ms: '4000' }), ctx);
    expect(sink.connections - before).toBe(2);
    // The adapter stays open: within 3.5 s only the idle timer (2 s) can end the second
    // session, the socket timeout (4 s) comes later.
    await vi.waitFor(() => expect(sink.openConnections).toBe(0), { timeout: 3500, interval: 50 });
  });

  it('sends aborted in flight or in the queue give their connection back', async () => {
    const a = fresh();
    const controller = new AbortController();
    const cancelled = { ...ctx, signal: controller.signal };
    const sends = Array.from({ length: 12 }, (_, i) => a.send(payload(`aborted-${i}@example.test`), creds(), cancelled));
    void sends[0]!.then(() => controller.abort());
    const outcomes = await Promise.allSettled(sends);
    const aborted = outcomes.filter((o) => o.status === 'rejected');
    expect(aborted.length).toBeGreaterThan(0);
    for (const o of aborted) expect(String(o.reason)).toMatch(/abort/i);
    // Every slot came back: more sends than the pool holds still go through.
    const after = Array.from({ length: 6 }, (_, i) => `after-abort-${i}@example.test`);
    await expect(Promise.all(after.map((to) => a.send(payload(to), creds(), ctx)))).resolves.toHaveLength(6);
  });
});

describe('EmailAdapter.verifyCredentials', () => {
  it('connects and logs in', async () => {
    const check = await fresh().verifyCredentials(creds({ events_provider: undefined }));
    expect(check).toEqual({ ok: true, detail: `smtp ${sink.host}:${sink.port} ok (logged in as mailer); events: none` });
  });

  it('reports a refused login without the password', async () => {
    const check = await fresh().verifyCredentials(creds({ password: 'wrong-password-value' }));
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/smtp_auth_failed/);
    expect(check.detail).not.toMatch(/wrong-password-value/);
  });

  it('reports an unreachable server', async () => {
    const check = await fresh().verifyCredentials(creds({}, { host: '127.0.0.1', port: await closedPort() }));
    expect(check.ok).toBe(false);
    // A closed port reads like any other failure to reach an SMTP server (no port scanning through verify).
    expect(check.detail).toMatch(/^smtp 127\.0\.0\.1:\d+: no valid answer/);
  });

  it('reports unusable event verification keys even when SMTP is fine', async () => {
    const check = await fresh().verifyCredentials(creds({ events_provider: 'sendgrid', sendgrid_verification_key: 'bm90IGEga2V5' }));
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/sendgrid_verification_key is unusable/);
  });

  it('reports an SES channel without sns_topic_arn even when SMTP is fine', async () => {
    const check = await fresh().verifyCredentials(creds({ events_provider: 'ses', sns_signing_cert_pem: 'PEM' }));
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/sns_topic_arn is required when events_provider is ses/);
  });

  it('names missing credentials', async () => {
    expect(await fresh().verifyCredentials({ host: 'smtp.example.test' })).toEqual({ ok: false, detail: 'missing email credentials: port, from_address' });
  });
});

describe('EmailAdapter channel checks', () => {
  it('registers as email/default with the SES default rate', () => {
    expect(fresh()).toMatchObject({ channelType: 'email', provider: 'default', defaultRateLimitPerSecond: 14 });
    expect(adapter.requiredCredentials).toEqual(['host', 'port', 'from_address']);
  });

  it.each([
    ['ada@example.com', true],
    ['first.last+tag@sub.example.co.uk', true],
    ["o'brien@example.ie", true],
    ['user@xn--bcher-kva.example', true],
    ['ada@localhost', false],
    ['Ada <ada@example.com>', false],
    ['a@example.com, b@example.com', false],
    ['.ada@example.com', false],
    ['ada..b@example.com', false],
    ['ada@-example.com', false],
    ['ada@example.c', false],
    ['ada@exa mple.com', false],
    [`${'a'.repeat(65)}@example.com`, false],
    ['ada@example.com\r\nBcc: eve@example.com', false],
  ])('validateAddress(%j) accepts=%s', (address, ok) => {
    expect(fresh().validateAddress(address) === undefined).toBe(ok);
  });

  it('refuses an SES channel without an SNS topic ARN, naming the credential', () => {
    const ses = { host: 'smtp.example.test', port: '587', from_address: 'a@example.test', events_provider: 'ses', sns_signing_cert_pem: 'PEM' };
    expect(fresh().credentialsProblem(ses)).toEqual({
      field: 'sns_topic_arn',
      reason: expect.stringMatching(/^is required when events_provider is ses/) as unknown,
    });
    expect(fresh().credentialsProblem({ ...ses, sns_topic_arn: 'my-topic' })).toEqual({
      field: 'sns_topic_arn',
      reason: expect.stringMatching(/^must be an SNS topic ARN/) as unknown,
    });
    expect(fresh().credentialsProblem({ ...ses, sns_topic_arn: 'arn:aws:sns:eu-west-1:123456789012:ses-events' })).toBeUndefined();
    expect(fresh().credentialsProblem({ ...ses, events_provider: 'sendgrid' })).toBeUndefined();
    expect(fresh().credentialsProblem({ host: 'smtp.example.test' })).toBeUndefined();
  });

  it('has no inbound messages', () => {
    expect(fresh().parseInbound({ method: 'POST', url: 'http://x', headers: {}, rawBody: Buffer.from('[]'), body: [], query: {} })).toEqual([]);
  });
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

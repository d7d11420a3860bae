import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config';
import {
  EgressPolicy,
  EgressRedirectError,
  EgressRefusedError,
  EgressResponseTooLargeError,
  MAX_RESPONSE_BYTES,
  MAX_TIMEOUT_MS,
  boundedTimeout,
  parseAllowList,
  refusalOf,
} from './egress';
import { EmailAdapter } from './email/email';
import { MessengerAdapter } from './messenger/messenger';
import { JasminSmppAdapter } from './smpp/jasmin';
import { TwilioSmsAdapter } from './sms/twilio';
import { PermanentSendError } from './types';
import { WhatsAppAdapter } from './whatsapp/whatsapp';

// No test here sends a packet beyond loopback: decisions are tested on addresses, and the
// servers listen on 127.0.0.1 (allowed) or 127.0.0.2 (loopback too, but not allowed).

/** What the tests' configuration allows: 127.0.0.1 only. */
const ONLY_127_0_0_1 = EgressPolicy.fromList('127.0.0.1');

interface Counted {
  url: string;
  host: string;
  port: number;
  connections: number;
  close(): Promise<void>;
}

const servers: Counted[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An HTTP server on `host` that counts the TCP connections it accepted. */
async function serve(host: string, handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Counted> {
  const server = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const counted: Counted = {
    url: `http://${host}:${port}`,
    host,
    port,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('connection', () => void (counted.connections += 1));
  servers.push(counted);
  return counted;
}

const twilioCredentials = (baseUrl: string) => ({
  account_sid: `AC${'0'.repeat(32)}`,
  api_key: `SK${'0'.repeat(32)}`,
  api_secret: 'secret',
  auth_token: 'token',
  from: '+15017122661',
  base_url: baseUrl,
});
const payload = { messageId: '0190f0aa-0000-7000-8000-000000000001', to: '+15558675310', body: 'hi', subject: 's' };
const ctx = { traceId: 't', statusCallbackUrl: 'https://dispatch.example.com/cb' };

describe('refusalOf (the decision, on addresses: nothing is connected to)', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['127.0.0.2', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['[::ffff:10.0.0.1]', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:0101::1', 'private'],
    ['fd00::1', 'private (ULA)'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['not-an-ip', 'not an IP address'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(refusalOf(address)).toBe(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '52.4.1.1', '2606:4700:4700::1111', '2a03:2880:f12f:83:face:b00c::25de', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(refusalOf(address)).toBeUndefined();
    },
  );

  it('allows what EGRESS_ALLOW lists, and only that', () => {
    const { entries } = parseAllowList('127.0.0.1, 10.1.0.0/16, fd00::/8');
    expect(refusalOf('127.0.0.1', entries)).toBeUndefined();
    expect(refusalOf('::ffff:127.0.0.1', entries)).toBeUndefined();
    expect(refusalOf('10.1.200.3', entries)).toBeUndefined();
    expect(refusalOf('fd00::1', entries)).toBeUndefined();
    expect(refusalOf('127.0.0.2', entries)).toBe('loopback');
    expect(refusalOf('10.2.0.1', entries)).toBe('private');
    expect(refusalOf('169.254.169.254', entries)).toBe('link-local');
  });

  it('reads EGRESS_ALLOW and ALLOW_SANDBOX_CHANNELS in config, refusing what it cannot read', () => {
    expect(loadConfig({}).egressAllow).toEqual([]);
    expect(loadConfig({}).allowSandboxChannels).toBe(false);
    expect(loadConfig({ EGRESS_ALLOW: '127.0.0.1,localhost' }).egressAllow).toHaveLength(2);
    expect(() => loadConfig({ EGRESS_ALLOW: '127.0.0.1,10.0.0.0/40' })).toThrow(/EGRESS_ALLOW: "10.0.0.0\/40" is neither/);
    expect(() => loadConfig({ EGRESS_ALLOW: 'http://x' })).toThrow(/EGRESS_ALLOW/);
    expect(() => loadConfig({ ALLOW_SANDBOX_CHANNELS: 'yes' })).toThrow(/ALLOW_SANDBOX_CHANNELS must be true or false/);
    expect(loadConfig({ ALLOW_SANDBOX_CHANNELS: 'true' }).allowSandboxChannels).toBe(true);
  });

  it('bounds timeout_ms', () => {
    expect(boundedTimeout(undefined, 10_000)).toBe(10_000);
    expect(boundedTimeout('500', 10_000)).toBe(500);
    expect(boundedTimeout('86400000', 10_000)).toBe(MAX_TIMEOUT_MS);
    expect(boundedTimeout('-1', 10_000)).toBe(10_000);
  });
});

describe('EgressPolicy.fetch', () => {
  it('refuses a loopback address that is not allowed, before any connection', async () => {
    const inside = await serve('127.0.0.2', (_req, res) => res.end('internal'));
    await expect(ONLY_127_0_0_1.fetch(inside.url, { method: 'GET' })).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(ONLY_127_0_0_1.fetch(`http://[::ffff:127.0.0.2]:${inside.port}/`, { method: 'GET' })).rejects.toThrow(/loopback address/);
    expect(inside.connections).toBe(0);
  });

  it('decides on the resolved address: a name that resolves to a refused one is refused', async () => {
    const local = await serve('127.0.0.1', (_req, res) => res.end('internal'));
    // localhost resolves (from /etc/hosts) to 127.0.0.1, which this policy does not allow.
    const policy = EgressPolicy.fromList('127.0.0.2', async () => [{ address: '127.0.0.1', family: 4 }]);
    await expect(policy.fetch(`http://internal.example:${local.port}/`, { method: 'GET' })).rejects.toThrow(
      'internal.example resolves to a loopback address, not allowed by EGRESS_ALLOW',
    );
    await expect(policy.fetch(`http://localhost:${local.port}/`, { method: 'GET' })).rejects.toBeInstanceOf(EgressRefusedError);
    expect(local.connections).toBe(0);
  });

  it('connects to the checked address, not to a second answer of DNS', async () => {
    const local = await serve('127.0.0.1', (_req, res) => res.end('ok'));
    const answers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '127.0.0.2', family: 4 }]];
    const policy = EgressPolicy.fromList('127.0.0.1', async () => answers.shift() ?? []);
    const res = await policy.fetch(`http://rebinding.example:${local.port}/`, { method: 'GET' });
    expect(res.text).toBe('ok');
    policy.close();
  });

  it('does not follow a redirect', async () => {
    const inside = await serve('127.0.0.2', (_req, res) => res.end('internal secret'));
    const redirector = await serve('127.0.0.1', (_req, res) => {
      res.writeHead(302, { location: `${inside.url}/latest/meta-data/` });
      res.end();
    });
    const err = await ONLY_127_0_0_1.fetch(redirector.url, { method: 'GET' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EgressRedirectError);
    expect(err).toMatchObject({ code: 'egress_redirect', retryClass: 'permanent', message: 'provider answered HTTP 302 (a redirect, which is not followed)' });
    expect(inside.connections).toBe(0);
  });

  it('caps the response body', async () => {
    const huge = await serve('127.0.0.1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
    });
    await expect(ONLY_127_0_0_1.fetch(huge.url, { method: 'GET' })).rejects.toBeInstanceOf(EgressResponseTooLargeError);
    const fits = await serve('127.0.0.1', (_req, res) => res.end(Buffer.alloc(MAX_RESPONSE_BYTES, 'b')));
    expect((await ONLY_127_0_0_1.fetch(fits.url, { method: 'GET' })).text).toHaveLength(MAX_RESPONSE_BYTES);
  });
});

describe('adapters through the egress policy', () => {
  it('fails a send to a refused target permanently (egress_refused), for every HTTP adapter', async () => {
    const inside = await serve('127.0.0.2', (_req, res) => res.end('{}'));
    const sends = [
      new TwilioSmsAdapter(ONLY_127_0_0_1).send(payload, twilioCredentials(inside.url), ctx),
      new WhatsAppAdapter(Date.now, ONLY_127_0_0_1).send(
        payload,
        { access_token: 't', phone_number_id: '1', base_url: inside.url },
        { ...ctx, lastInboundAt: new Date() },
      ),
      new MessengerAdapter(Date.now, ONLY_127_0_0_1).send(
        { ...payload, to: '123' },
        { page_access_token: 't', base_url: inside.url },
        { ...ctx, lastInboundAt: new Date() },
      ),
      new JasminSmppAdapter(ONLY_127_0_0_1).send({ ...payload, to: '+255712345678' }, { base_url: inside.url, username: 'u', password: 'p' }, ctx),
    ];
    for (const err of await Promise.all(sends.map((send) => send.catch((e: unknown) => e)))) {
      expect(err).toBeInstanceOf(PermanentSendError);
      expect(err).toMatchObject({ code: 'egress_refused' });
    }
    expect(inside.connections).toBe(0);
  });

  it('fails an SMTP send to a refused host permanently, and connects nowhere', async () => {
    let connections = 0;
    const smtp = new SMTPServer({ authOptional: true, onConnect: (_s, cb) => void ((connections += 1), cb()) });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.2', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const adapter = new EmailAdapter(Date.now, ONLY_127_0_0_1);
    try {
      const credentials = { host: '127.0.0.2', port: String(port), from_address: 'a@example.com' };
      const err = await adapter.send({ ...payload, to: 'b@example.com' }, credentials, ctx).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'egress_refused', retryClass: 'permanent' });
      const check = await adapter.verifyCredentials(credentials);
      expect(check).toEqual({ ok: false, detail: 'egress_refused: 127.0.0.2 is a loopback address, not allowed by EGRESS_ALLOW' });
      expect(connections).toBe(0);
    } finally {
      adapter.close();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });

  it('answers verify without a foreign body, and the same for a closed port and an open one', async () => {
    const inside = await serve('127.0.0.2', (_req, res) => res.end('{"sid":"internal secret"}'));
    const redirector = await serve('127.0.0.1', (_req, res) => {
      res.writeHead(301, { location: inside.url });
      res.end();
    });
    const stranger = await serve('127.0.0.1', (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('internal admin console: password required');
    });
    const closed = await serve('127.0.0.1', () => undefined);
    await closed.close();
    const twilio = new TwilioSmsAdapter(ONLY_127_0_0_1);
    const details = await Promise.all([redirector, stranger, closed].map(async (s) => (await twilio.verifyCredentials(twilioCredentials(s.url))).detail));
    expect(new Set(details)).toEqual(new Set(["twilio: no valid answer (unreachable, or not the provider's API)"]));
    expect(await twilio.verifyCredentials(twilioCredentials(inside.url))).toEqual({
      ok: false,
      detail: 'egress_refused: 127.0.0.2 is a loopback address, not allowed by EGRESS_ALLOW',
    });
    const jasmin = new JasminSmppAdapter(ONLY_127_0_0_1);
    const jasminDetails = await Promise.all(
      [stranger, closed].map(async (s) => (await jasmin.verifyCredentials({ base_url: s.url, username: 'u', password: 'p' })).detail),
    );
    expect(new Set(jasminDetails)).toEqual(new Set(["jasmin: no valid answer (unreachable, or not the provider's API)"]));
    expect(inside.connections).toBe(0);
  });
});

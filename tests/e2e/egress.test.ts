import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../adapters';
import { EgressPolicy } from '../../adapters/egress';
import { buildApp } from '../../api/app';
import { createChannel } from '../../db/channels';
import { createLogger } from '../../observability/logger';
import { createMetrics } from '../../observability/metrics';
import { startTwilioSimulator, type TwilioSimulator } from '../../sandbox/twilio/server';
import { startStack, type TestStack } from '../support/stack';

// The stack's configuration allows 127.0.0.1 only (EGRESS_ALLOW). The "internal" provider
// listens on 127.0.0.2: loopback as well, so no packet leaves the machine, but not allowed.

describe('egress policy and sandbox channels, end to end', () => {
  let stack: TestStack;
  let inside: TwilioSimulator;

  beforeAll(async () => {
    stack = await startStack();
    inside = await startTwilioSimulator({ host: '127.0.0.2', accounts: [stack.twilioAccount] });
  }, 120_000);

  afterAll(async () => {
    await inside?.close();
    await stack?.close();
  });

  const post = (url: string, payload?: Record<string, unknown>) =>
    stack.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${stack.apiKey}` }, ...(payload ? { payload } : {}) });

  /** A channel row written before the policy, or whose name now resolves inside: only the connect-time check stands. */
  const channelOn = async (baseUrl: string) =>
    (
      await createChannel(stack.database.db, {
        accountId: stack.accountId,
        channelType: 'sms',
        provider: 'twilio',
        name: 'stored before the policy',
        credentials: { ...stack.twilioCredentials, base_url: baseUrl },
      })
    ).id;

  it('fails a send to a target the policy refuses, permanently and at once, with egress_refused', async () => {
    const channelId = await channelOn(inside.url);
    const accepted = await stack.sendMessage({ channel_id: channelId, to: '+15005550006', body: 'to the inside' });
    expect(accepted.status).toBe(202);
    const failed = await stack.waitForStatus(accepted.body.id ?? '', 'failed');
    expect(failed.error).toEqual({ code: 'egress_refused', message: '127.0.0.2 is a loopback address, not allowed by EGRESS_ALLOW' });
    const attempts = stack.logs.filter((l) => l.event === 'send_attempt_failed' && l.message_id === failed.id);
    expect(attempts).toHaveLength(1);
    expect(inside.requests).toHaveLength(0);
  });

  it('verify refuses the target, follows no redirect to it, and never echoes what answered', async () => {
    const refused = await post(`/v1/channels/${await channelOn(inside.url)}/verify`);
    expect(refused.statusCode).toBe(200);
    expect(refused.json()).toMatchObject({ ok: false, detail: 'egress_refused: 127.0.0.2 is a loopback address, not allowed by EGRESS_ALLOW' });

    // An allowed server that redirects to the inside: the redirect is an outcome, not followed.
    const { createServer } = await import('node:http');
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { location: `${inside.url}/2010-04-01/Accounts/${stack.twilioAccount.sid}.json` });
      res.end('moved');
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const port = (redirector.address() as { port: number }).port;
    try {
      const redirected = await post(`/v1/channels/${await channelOn(`http://127.0.0.1:${port}`)}/verify`);
      const closed = await post(`/v1/channels/${await channelOn('http://127.0.0.1:1')}/verify`);
      expect(redirected.json()).toMatchObject({ ok: false });
      // A redirect, an open port and a closed one read the same.
      expect(redirected.json<{ detail: string }>().detail).toBe(closed.json<{ detail: string }>().detail);
      expect(redirected.body).not.toContain('moved');
      expect(inside.requests).toHaveLength(0);
    } finally {
      await new Promise<void>((resolve) => redirector.close(() => resolve()));
    }
  });

  it('refuses an internal target and an unbounded timeout when the channel is created, naming the field', async () => {
    for (const baseUrl of ['http://127.0.0.2:8080', 'http://10.0.0.1', 'http://169.254.169.254/latest', 'http://[::1]:80', 'http://localhost:9']) {
      const res = await post('/v1/channels', {
        channel_type: 'sms',
        provider: 'twilio',
        name: 'x',
        credentials: { ...stack.twilioCredentials, base_url: baseUrl },
      });
      expect(res.statusCode, baseUrl).toBe(400);
      expect(res.json()).toMatchObject({ error: 'validation_failed', field: 'credentials.base_url' });
    }
    const smtp = await post('/v1/channels', {
      channel_type: 'email',
      name: 'x',
      credentials: { host: '192.168.1.10', port: '25', from_address: 'a@example.com' },
    });
    expect(smtp.json()).toMatchObject({ field: 'credentials.host', message: '192.168.1.10 is a private address, not allowed by EGRESS_ALLOW' });
    const slow = await post('/v1/channels', {
      channel_type: 'sms',
      provider: 'twilio',
      name: 'x',
      credentials: { ...stack.twilioCredentials, timeout_ms: '3600000' },
    });
    expect(slow.statusCode).toBe(400);
    expect(slow.json()).toMatchObject({ field: 'credentials.timeout_ms' });
    // The simulator on 127.0.0.1 is allowed, as is a public provider host.
    expect((await post('/v1/channels', { channel_type: 'sms', provider: 'twilio', name: 'ok', credentials: stack.twilioCredentials })).statusCode).toBe(201);
    const publicHost = { ...stack.twilioCredentials, base_url: 'https://api.twilio.com' };
    expect((await post('/v1/channels', { channel_type: 'sms', provider: 'twilio', name: 'ok', credentials: publicHost })).statusCode).toBe(201);
  });

  it('PATCH applies the same rules to new credentials: an internal target is refused, naming the field, and nothing reaches it', async () => {
    const created = await post('/v1/channels', { channel_type: 'sms', provider: 'twilio', name: 'patched', credentials: stack.twilioCredentials });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    const patch = (credentials: Record<string, string>) =>
      stack.app.inject({ method: 'PATCH', url: `/v1/channels/${id}`, headers: { authorization: `Bearer ${stack.apiKey}` }, payload: { credentials } });
    const before = await stack.database.pool.query<{ credentials: unknown }>('SELECT credentials FROM channels WHERE id = $1', [id]);
    const seen = inside.requests.length;
    for (const baseUrl of [inside.url, 'http://10.0.0.1', 'http://169.254.169.254/latest']) {
      const res = await patch({ base_url: baseUrl });
      expect(res.statusCode, baseUrl).toBe(400);
      expect(res.json()).toMatchObject({ field: 'credentials.base_url' });
    }
    expect((await patch({ timeout_ms: '3600000' })).json()).toMatchObject({ field: 'credentials.timeout_ms' });
    expect(inside.requests.length).toBe(seen);
    const after = await stack.database.pool.query<{ credentials: unknown }>('SELECT credentials FROM channels WHERE id = $1', [id]);
    expect(after.rows[0]?.credentials).toEqual(before.rows[0]?.credentials);
  });

  it('lets a sandbox channel target only hosts on EGRESS_ALLOW', async () => {
    const sandbox = (credentials: Record<string, string>) =>
      post('/v1/channels', { channel_type: 'sms', provider: 'twilio', name: 'sbx', credentials, sandbox: true, webhook_signature: 'disabled' });
    expect((await sandbox(stack.twilioCredentials)).statusCode).toBe(201);
    const { base_url: _omitted, ...defaultHost } = stack.twilioCredentials;
    for (const credentials of [defaultHost, { ...stack.twilioCredentials, base_url: 'https://api.twilio.com' }]) {
      const res = await sandbox(credentials);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ field: 'credentials.base_url' });
      expect(res.json<{ message: string }>().message).toMatch(/sandbox channel may only target hosts on EGRESS_ALLOW.*api\.twilio\.com/);
    }
  });

  it('refuses sandbox channels where the deployment does not allow them (ALLOW_SANDBOX_CHANNELS off)', async () => {
    const config = { ...stack.config, allowSandboxChannels: false };
    const app = await buildApp({
      config,
      database: stack.database,
      temporal: stack.temporal,
      adapters: defaultRegistry(new EgressPolicy(config.egressAllow)),
      logger: createLogger({ name: 'api', level: 'silent' }),
      metrics: createMetrics({ defaults: false }),
    });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/channels',
        headers: { authorization: `Bearer ${stack.apiKey}` },
        payload: { channel_type: 'sms', provider: 'twilio', name: 'sbx', credentials: stack.twilioCredentials, sandbox: true, webhook_signature: 'disabled' },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: 'sandbox_channels_disabled',
        field: 'sandbox',
        message: 'sandbox channels are not enabled on this deployment (ALLOW_SANDBOX_CHANNELS)',
      });
    } finally {
      await app.close();
    }
  });
});

import { spawnSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackToken } from '../../adapters/callback-token';
import { createApiKey } from '../../db/api-keys';
import { startJasminSimulator, type JasminSimulator } from '../../sandbox/jasmin/server';
import { startTwilioSimulator, type TwilioSimAccount, type TwilioSimulator } from '../../sandbox/twilio/server';
import { startStack, type TestStack } from '../support/stack';

/** For a time or an id the test cannot know. */
const anyString = expect.any(String) as unknown as string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The worker reads a channel through a 5 s cache (activities/index.ts): a change shows after it. */
const WORKER_CACHE_MS = 5_000;
/** The webhook route reads a cached channel again when a callback fails against a copy older than 1 s. */
const WEBHOOK_REREAD_MS = 1_000;

describe('API keys and channel secrets: list, revoke, change, rotate (API + Postgres + Temporal + simulators)', () => {
  let stack: TestStack;
  const call = (method: string, path: string, apiKey: string, body?: unknown) =>
    fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('API keys', () => {
    it('GET /v1/api-keys lists the account’s keys with their prefix, never the key or its hash', async () => {
      const { accountId, apiKey } = await stack.newAccount('listing');
      const second = await createApiKey(stack.database.db, accountId, 'ci deploys');
      const other = await stack.newAccount('someone else');

      const res = await call('GET', '/v1/api-keys', apiKey);
      expect(res.status).toBe(200);
      const text = await res.text();
      const hashes = await stack.database.db.execute<{ key_hash: string }>(sql`SELECT key_hash FROM api_keys WHERE account_id = ${accountId}`);
      for (const secret of [apiKey, second.key, ...hashes.rows.map((r) => r.key_hash)]) expect(text).not.toContain(secret);
      expect(text).not.toContain(other.apiKey.split('_')[1]);
      const { data } = JSON.parse(text) as { data: Array<Record<string, unknown>> };
      expect(data).toEqual([
        { id: anyString, name: 'default', prefix: apiKey.split('_')[1], created_at: anyString, revoked_at: null },
        { id: second.id, name: 'ci deploys', prefix: second.prefix, created_at: anyString, revoked_at: null },
      ]);
    });

    it('a key issued with POST /v1/api-keys works; revoked with DELETE, it is refused (401) on its very next request', async () => {
      const { apiKey } = await stack.newAccount('revoking');
      const issued = await json(await call('POST', '/v1/api-keys', apiKey, { name: 'rotation' }));
      expect(issued.status).toBe(201);
      const newKey = issued.body.api_key as string;
      expect(newKey).toMatch(/^tdk_[0-9a-f]{12}_/);
      expect((await call('GET', '/v1/api-keys', newKey)).status).toBe(200);
      const unnamed = await json(await call('POST', '/v1/api-keys', apiKey));
      expect(unnamed).toMatchObject({ status: 201, body: { name: 'default', revoked_at: null } });
      expect((await json(await call('POST', '/v1/api-keys', apiKey, { name: '' }))).body.field).toBe('name');

      const oldId = ((await json(await call('GET', '/v1/api-keys', newKey))).body.data as Array<{ id: string; prefix: string }>).find(
        (k) => k.prefix === apiKey.split('_')[1],
      )?.id;
      expect((await call('GET', '/v1/channels/00000000-0000-7000-8000-000000000000', apiKey)).status).toBe(404);
      const revoked = await json(await call('DELETE', `/v1/api-keys/${oldId}`, newKey));
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ id: oldId, revoked_at: anyString });
      expect(JSON.stringify(revoked.body)).not.toContain(apiKey);

      const refused = await json(await call('GET', '/v1/api-keys', apiKey));
      expect(refused).toEqual({ status: 401, body: { error: 'unauthorized', message: 'invalid API key' } });
      expect((await stack.sendMessage({ channel_id: 'x', to: '+1' }, { authorization: `Bearer ${apiKey}` })).status).toBe(401);
      // The key that revoked it goes on working, and the listing keeps the revoked key with its time.
      const listed = (await json(await call('GET', '/v1/api-keys', newKey))).body.data as Array<{ id: string; revoked_at: string | null }>;
      expect(listed.find((k) => k.id === oldId)?.revoked_at).toBe(revoked.body.revoked_at);
      // Revoking again changes nothing; a key can revoke itself.
      expect((await json(await call('DELETE', `/v1/api-keys/${oldId}`, newKey))).body.revoked_at).toBe(revoked.body.revoked_at);
      expect((await call('DELETE', `/v1/api-keys/${issued.body.id as string}`, newKey)).status).toBe(200);
      expect((await call('GET', '/v1/api-keys', newKey)).status).toBe(401);
    });

    it("another account's key cannot be revoked (404) and keeps working; a malformed id is 404 too", async () => {
      const mine = await stack.newAccount('mine');
      const theirs = await stack.newAccount('theirs');
      const theirId = ((await json(await call('GET', '/v1/api-keys', theirs.apiKey))).body.data as Array<{ id: string }>)[0]?.id ?? '';
      const res = await json(await call('DELETE', `/v1/api-keys/${theirId}`, mine.apiKey));
      expect(res).toEqual({ status: 404, body: { error: 'not_found', message: 'api key not found' } });
      expect((await call('DELETE', '/v1/api-keys/not-a-uuid', mine.apiKey)).status).toBe(404);
      expect((await call('GET', '/v1/api-keys', theirs.apiKey)).status).toBe(200);
      const row = await stack.database.db.execute<{ revoked_at: Date | null }>(sql`SELECT revoked_at FROM api_keys WHERE id = ${theirId}`);
      expect(row.rows[0]?.revoked_at).toBeNull();
    });

    it('cli key list shows an account’s keys without secrets; cli key revoke revokes one at once', async () => {
      const { accountId, apiKey } = await stack.newAccount('cli');
      const cli = (...args: string[]) => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
          env: { ...process.env, DATABASE_URL: stack.config.databaseUrl, LOG_LEVEL: 'error' },
          encoding: 'utf8',
          timeout: 60_000,
        });
        return { code: r.status, out: r.stdout, err: r.stderr };
      };
      const list = cli('key', 'list', '--account', accountId);
      expect(list.code, list.err).toBe(0);
      expect(list.out).not.toContain(apiKey);
      const listed = JSON.parse(list.out) as { account_id: string; keys: Array<{ id: string; prefix: string; revoked_at: string | null }> };
      expect(listed.keys).toEqual([{ id: anyString, name: 'default', prefix: apiKey.split('_')[1], created_at: anyString, revoked_at: null }]);

      const revoke = cli('key', 'revoke', '--id', listed.keys[0]?.id ?? '');
      expect(revoke.code, revoke.err).toBe(0);
      expect(JSON.parse(revoke.out)).toMatchObject({ event: 'api_key_revoked', account_id: accountId, id: listed.keys[0]?.id, revoked_at: anyString });
      expect((await call('GET', '/v1/api-keys', apiKey)).status).toBe(401);
      expect(cli('key', 'revoke', '--id', '00000000-0000-7000-8000-000000000000').code).toBe(1);
      expect(cli('key', 'revoke').code).toBe(2);
    }, 240_000); // four CLI processes, each compiling its TypeScript on a loaded machine
  });

  describe('PATCH /v1/channels/:id', () => {
    let twilio: TwilioSimulator;
    const first: TwilioSimAccount = { sid: `AC${'a'.repeat(32)}`, apiKey: `SK${'b'.repeat(32)}`, apiSecret: 'first-api-secret', authToken: 'first-auth-token' };
    const second: TwilioSimAccount = {
      sid: `AC${'c'.repeat(32)}`,
      apiKey: `SK${'d'.repeat(32)}`,
      apiSecret: 'second-api-secret',
      authToken: 'second-auth-token',
    };
    const credentialsOf = (a: TwilioSimAccount) => ({ account_sid: a.sid, api_key: a.apiKey, api_secret: a.apiSecret, auth_token: a.authToken });
    let channelId: string;
    const patch = (body: unknown, apiKey = stack.apiKey, id = channelId) => call('PATCH', `/v1/channels/${id}`, apiKey, body).then(json);
    const stored = async () =>
      (await stack.database.db.execute<{ credentials: unknown }>(sql`SELECT credentials FROM channels WHERE id = ${channelId}`)).rows[0]?.credentials;
    const send = async (to = '+15005550006') => {
      const accepted = await stack.sendMessage({ channel_id: channelId, to, body: 'Your code is 4821' });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      return accepted.body.id ?? '';
    };

    beforeAll(async () => {
      twilio = await startTwilioSimulator({ accounts: [first, second], callbackDelayMs: 20 });
      channelId = (
        await stack.createChannel({
          channel_type: 'sms',
          provider: 'twilio',
          name: 'before',
          credentials: { ...credentialsOf(first), from: '+15017122661', base_url: twilio.url },
        })
      ).id;
    });
    afterAll(async () => {
      await twilio?.close();
    });

    it('refuses bad input with a 400 naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        [{}, 'body'],
        [{ rate_limit_per_second: 0 }, 'rate_limit_per_second'],
        [{ daily_limit: 'lots' }, 'daily_limit'],
        [{ name: '' }, 'name'],
        [{ enabled: 'no' }, 'enabled'],
        [{ sandbox: true }, 'sandbox'],
        [{ webhook_signature: 'disabled' }, 'webhook_signature'],
        [{ credentials: { api_secret: 5 } }, 'credentials.api_secret'],
        [{ credentials: {} }, 'credentials'],
        [{ credentials: { auth_token: null } }, 'credentials.auth_token'],
      ];
      for (const [body, field] of cases) {
        const res = await patch(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.field, JSON.stringify(body)).toBe(field);
      }
      expect((await call('PATCH', `/v1/channels/${channelId}`, stack.apiKey, undefined)).status).toBe(400);
    });

    it("another account's channel is 404", async () => {
      const other = await stack.newAccount('patcher');
      expect((await patch({ name: 'mine now' }, other.apiKey)).status).toBe(404);
      expect((await patch({ name: 'x' }, stack.apiKey, 'not-a-uuid')).status).toBe(404);
      expect((await json(await call('GET', `/v1/channels/${channelId}`, stack.apiKey))).body.name).toBe('before');
    });

    it('changes name and limits; null puts a limit back to its default', async () => {
      const res = await patch({ name: 'after', rate_limit_per_second: 7, daily_limit: 5000 });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: channelId, name: 'after', rate_limit_per_second: 7, daily_limit: 5000, enabled: true });
      expect((await json(await call('GET', `/v1/channels/${channelId}`, stack.apiKey))).body).toMatchObject({
        name: 'after',
        rate_limit_per_second: 7,
        daily_limit: 5000,
      });
      const reset = await patch({ rate_limit_per_second: null, daily_limit: null });
      expect(reset.body).toMatchObject({ name: 'after', rate_limit_per_second: 100, daily_limit: null });
    });

    it('rejects credentials the provider refuses (422 naming credentials) and changes nothing', async () => {
      const before = await stored();
      for (const bad of [{ api_secret: 'not-the-secret' }, { base_url: 'http://127.0.0.1:1' }]) {
        const res = await patch({ name: 'renamed', credentials: bad });
        expect(res.status, JSON.stringify(res.body)).toBe(422);
        expect(res.body).toMatchObject({ error: 'credentials_rejected', field: 'credentials' });
        expect(JSON.stringify(res.body)).not.toContain('not-the-secret');
      }
      expect(await stored()).toEqual(before);
      expect((await json(await call('GET', `/v1/channels/${channelId}`, stack.apiKey))).body.name).toBe('after');
    });

    it('stores new credentials the provider accepts, encrypted; the worker sends with them and their webhooks pass', async () => {
      const id1 = await send();
      await stack.waitForStatus(id1, 'delivered');
      const res = await patch({ credentials: credentialsOf(second) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const text = JSON.stringify(res.body);
      for (const secret of [second.apiSecret, second.authToken, first.apiSecret]) expect(text).not.toContain(secret);
      expect(res.body).not.toHaveProperty('credentials');
      const row = JSON.stringify(await stored());
      expect(row).toContain('"ct"');
      expect(row).not.toContain(second.apiSecret);

      await sleep(WORKER_CACHE_MS + 200);
      const id2 = await send();
      // Twilio now signs this message's callbacks with the second account's auth token: they pass the webhook route.
      await stack.waitForStatus(id2, 'delivered');
      const sentBy = (id: string) => twilio.requests.find((r) => r.form.StatusCallback?.includes(id))?.path;
      expect(sentBy(id1)).toContain(first.sid);
      expect(sentBy(id2)).toContain(second.sid);
    });

    it('a disabled channel refuses sends; enabled again, it sends', async () => {
      expect((await patch({ enabled: false })).body).toMatchObject({ enabled: false });
      const refused = await stack.sendMessage({ channel_id: channelId, to: '+15005550006', body: 'hi' });
      expect(refused).toEqual({ status: 400, body: { error: 'validation_failed', message: 'channel is disabled', field: 'channel_id' } });
      expect((await patch({ enabled: true })).body).toMatchObject({ enabled: true });
      await stack.waitForStatus(await send(), 'delivered');
    });

    it('a daily_limit lowered to what was sent today holds the next send', async () => {
      const sentToday = Number(
        (
          await stack.database.db.execute<{ n: number }>(
            sql`SELECT day_count AS n FROM rate_limiter_state WHERE channel_id = ${channelId} AND scope = 'reserve'`,
          )
        ).rows[0]?.n,
      );
      expect(sentToday).toBeGreaterThan(0);
      expect((await patch({ daily_limit: sentToday })).status).toBe(200);
      await sleep(WORKER_CACHE_MS + 200);
      const held = await send();
      await sleep(1_500);
      expect((await stack.getMessage(held)).body.status).toBe('queued');
      expect(twilio.requests.some((r) => r.form.StatusCallback?.includes(held))).toBe(false);
    });
  });

  describe('POST /v1/channels/:id/rotate-webhook-secret', () => {
    const USER = { username: 'rotator', password: 'rotation-pw' };
    let jasmin: JasminSimulator;
    let smpp: { id: string; webhook_url: string; webhook_secret: string };

    beforeAll(async () => {
      jasmin = await startJasminSimulator({ users: [USER], dlrDelayMs: 30, dlrRetryDelayMs: 300 });
      smpp = await stack.createSmppChannel(jasmin.url, USER, 'rotating smpp');
    });
    afterAll(async () => {
      await jasmin?.close();
    });

    const rotate = (id: string, body?: unknown, apiKey = stack.apiKey) => call('POST', `/v1/channels/${id}/rotate-webhook-secret`, apiKey, body).then(json);

    it('refuses an overlap out of bounds, and another account’s channel', async () => {
      for (const overlap of [-1, 2_592_001, 1.5, 'soon']) {
        const res = await rotate(smpp.id, { overlap_seconds: overlap });
        expect(res.status).toBe(400);
        expect(res.body.field).toBe('overlap_seconds');
      }
      const other = await stack.newAccount('rotator');
      expect((await rotate(smpp.id, {}, other.apiKey)).status).toBe(404);
      expect((await json(await call('GET', `/v1/channels/${smpp.id}`, stack.apiKey))).body.previous_webhook_secret_expires_at).toBeNull();
    });

    it('Jasmin DLRs: the old secret passes during the overlap and fails after it; the new one passes, and the worker signs with it', async () => {
      const send = async () => {
        const accepted = await stack.sendMessage({ channel_id: smpp.id, to: '+447700900004', body: 'Your code is 4821' }); // no receipt from the SMSC
        expect(accepted.status).toBe(202);
        const id = accepted.body.id ?? '';
        return { id, providerId: (await stack.waitForStatus(id, 'sent')).provider_message_id ?? '' };
      };
      const dlr = (m: { id: string; providerId: string }, secret: string) =>
        fetch(`${smpp.webhook_url}?message_id=${m.id}&token=${callbackToken(secret, m.id)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ id: m.providerId, level: '2', message_status: 'DELIVRD', connector: 'smsc1', err: '000' }).toString(),
        });
      const oldSecret = smpp.webhook_secret;
      const [m1, m2] = [await send(), await send()];

      const rotated = await rotate(smpp.id, { overlap_seconds: 3 });
      const rotatedAt = Date.now();
      expect(rotated.status).toBe(200);
      const newSecret = rotated.body.webhook_secret as string;
      expect(newSecret).toMatch(/^[\w-]{32}$/);
      expect(newSecret).not.toBe(oldSecret);
      const expires = Date.parse(rotated.body.previous_webhook_secret_expires_at as string);
      expect(expires - rotatedAt).toBeGreaterThan(1_000);
      expect(expires - rotatedAt).toBeLessThan(4_000);
      // Shown once: a read has neither secret.
      const read = await (await call('GET', `/v1/channels/${smpp.id}`, stack.apiKey)).text();
      expect(read).not.toContain(newSecret);
      expect(read).not.toContain(oldSecret);

      // A receipt for a message sent before the rotation carries the old token: taken during the overlap.
      expect((await dlr(m1, oldSecret)).status).toBe(200);
      await stack.waitForStatus(m1.id, 'delivered');

      await sleep(Math.max(0, expires - Date.now()) + 300);
      const late = await dlr(m2, oldSecret);
      expect(late.status).toBe(401);
      await sleep(300);
      expect((await stack.getMessage(m2.id)).body.status).toBe('sent');
      expect((await json(await call('GET', `/v1/channels/${smpp.id}`, stack.apiKey))).body.previous_webhook_secret_expires_at).toBeNull();
      expect((await dlr(m2, newSecret)).status).toBe(200);
      await stack.waitForStatus(m2.id, 'delivered');

      // Sends after the worker's cache has turned over ask Jasmin for DLRs with the new token.
      await sleep(Math.max(0, rotatedAt + WORKER_CACHE_MS + 300 - Date.now()));
      const m3 = await send();
      const dlrUrl = jasmin.requests.find((r) => (r.args['dlr-url'] ?? '').includes(`message_id=${m3.id}`))?.args['dlr-url'] ?? '';
      expect(new URL(dlrUrl).searchParams.get('token')).toBe(callbackToken(newSecret, m3.id));
    });

    it("Meta's verification handshake: the old verify token passes during the overlap and fails after it; the new one passes", async () => {
      const whatsapp = await stack.createChannel({
        channel_type: 'whatsapp',
        name: 'rotating whatsapp',
        credentials: { access_token: 'rotation-token', phone_number_id: '106540352242999', app_secret: 'rotation-app-secret', base_url: 'http://127.0.0.1:1' },
      });
      const handshake = async (token: string) => {
        const res = await fetch(`${whatsapp.webhook_url}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=1158201444`);
        return { status: res.status, body: await res.text() };
      };
      expect(await handshake(whatsapp.webhook_secret)).toEqual({ status: 200, body: '1158201444' });
      const rotated = await rotate(whatsapp.id, { overlap_seconds: 2 });
      const newSecret = rotated.body.webhook_secret as string;
      expect(await handshake(whatsapp.webhook_secret)).toEqual({ status: 200, body: '1158201444' });
      await sleep(WEBHOOK_REREAD_MS + 100);
      expect(await handshake(newSecret)).toEqual({ status: 200, body: '1158201444' });
      expect(await handshake(whatsapp.webhook_secret)).toEqual({ status: 200, body: '1158201444' });
      await sleep(Math.max(0, Date.parse(rotated.body.previous_webhook_secret_expires_at as string) - Date.now()) + 300);
      expect((await handshake(whatsapp.webhook_secret)).status).toBe(403);
      expect(await handshake(newSecret)).toEqual({ status: 200, body: '1158201444' });
    });

    it('without overlap_seconds the previous secret passes for WEBHOOK_ROTATION_OVERLAP_SECONDS (default 86400)', async () => {
      const before = Date.now();
      const rotated = await rotate(smpp.id);
      expect(rotated.status).toBe(200);
      const expires = Date.parse(rotated.body.previous_webhook_secret_expires_at as string);
      expect(Math.abs(expires - before - 86_400_000)).toBeLessThan(5_000);
      const now = await rotate(smpp.id, { overlap_seconds: 0 });
      expect(now.body.previous_webhook_secret_expires_at).toBeNull();
    });
  });
});

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../adapters';
import { EgressPolicy } from '../../adapters/egress';
import { buildApp } from '../../api/app';
import { accountQuotaReport, setAccountQuotas } from '../../db/quotas';
import { createApiKey } from '../../db/api-keys';
import { createLogger } from '../../observability/logger';
import { createMetrics } from '../../observability/metrics';
import { startStack, type TestStack } from '../support/stack';

// Per-key request limits and per-account quotas, on the real API and PostgreSQL.

const MESSAGES_PER_DAY = 10;
const RECIPIENTS_PER_GROUP = 5;
const CHANNELS = 3;

describe('per-key rate limits and per-account quotas', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      inProcessWorker: false,
      env: {
        QUOTA_MESSAGES_PER_DAY: String(MESSAGES_PER_DAY),
        QUOTA_RECIPIENTS_PER_GROUP: String(RECIPIENTS_PER_GROUP),
        QUOTA_CHANNELS_PER_ACCOUNT: String(CHANNELS),
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const call = (
    app: FastifyInstance,
    apiKey: string,
    method: 'GET' | 'POST',
    url: string,
    payload?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) => app.inject({ method, url, headers: { authorization: `Bearer ${apiKey}`, ...headers }, ...(payload ? { payload } : {}) });

  const secondsToMidnightUtc = () => {
    const now = new Date();
    return (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
  };

  describe('API_RATE_LIMIT_PER_MINUTE', () => {
    const LIMIT = 5;
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await buildApp({
        config: { ...stack.config, apiRateLimitPerMinute: LIMIT },
        database: stack.database,
        temporal: stack.temporal,
        adapters: defaultRegistry(new EgressPolicy(stack.config.egressAllow)),
        logger: createLogger({ name: 'rate-limited-api', level: 'silent' }),
        metrics: createMetrics({ defaults: false }),
      });
    });
    afterAll(async () => {
      await app?.close();
    });

    it('answers 429 with Retry-After past the limit; each API key has its own budget; webhooks and health are not limited', async () => {
      const { accountId, apiKey } = await stack.newAccount('rate limited');
      const answers = [];
      for (let i = 0; i < LIMIT; i++) answers.push(await call(app, apiKey, 'GET', '/v1/messages'));
      expect(answers.map((r) => r.statusCode)).toEqual(Array(LIMIT).fill(200));
      expect(answers.at(-1)?.headers['x-ratelimit-remaining']).toBe('0');

      const refused = await call(app, apiKey, 'POST', '/v1/messages', { channel_id: '0190a0a0-0000-7000-8000-000000000000', to: '+15550000001', body: 'x' });
      expect(refused.statusCode).toBe(429);
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.json()).toMatchObject({ error: 'rate_limited', limit: 'requests_per_minute', max: LIMIT, retry_after_seconds: retryAfter });
      expect(refused.json<{ message: string }>().message).toMatch(/5 requests a minute/);

      // Same account, same address, another key: its own budget (the limit is per key, not per account or IP).
      const second = (await createApiKey(stack.database.db, accountId, 'second')).key;
      expect((await call(app, second, 'GET', '/v1/messages')).statusCode).toBe(200);
      expect((await call(app, apiKey, 'GET', '/v1/messages')).statusCode).toBe(429);
      // Another account's key is untouched too.
      expect((await call(app, stack.apiKey, 'GET', '/v1/messages')).statusCode).toBe(200);

      // An unauthenticated request is answered by auth, never counted against a key.
      expect(
        (await app.inject({ method: 'GET', url: '/v1/messages', headers: { authorization: 'Bearer tdk_000000000000_nonsense-nonsense' } })).statusCode,
      ).toBe(401);
      for (let i = 0; i < LIMIT * 2; i++) {
        expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
        const hook = await app.inject({
          method: 'POST',
          url: '/webhooks/sms/0190a0a0-0000-7000-8000-000000000000',
          payload: 'a=b',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expect(hook.statusCode).not.toBe(429);
      }
    });
  });

  it('stops at exactly QUOTA_MESSAGES_PER_DAY under concurrent requests; an idempotent replay counts once; 429 until the next UTC day', async () => {
    const { accountId, apiKey } = await stack.newAccount('daily quota');
    const channelId = await stack.createSmsChannel({ apiKey });
    const send = (i: number, headers: Record<string, string> = {}) =>
      call(stack.app, apiKey, 'POST', '/v1/messages', { channel_id: channelId, to: `+1555444${String(i).padStart(4, '0')}`, body: `n ${i}` }, headers);

    const first = await send(0, { 'idempotency-key': 'daily-1' });
    expect(first.statusCode).toBe(202);
    for (const r of await Promise.all([1, 2, 3].map(() => send(0, { 'idempotency-key': 'daily-1' })))) {
      expect(r.statusCode).toBe(202);
      expect(r.headers['idempotent-replayed']).toBe('true');
    }

    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => send(i + 1)));
    const accepted = burst.filter((r) => r.statusCode === 202);
    const refused = burst.filter((r) => r.statusCode === 429);
    expect(accepted).toHaveLength(MESSAGES_PER_DAY - 1);
    expect(refused).toHaveLength(30 - (MESSAGES_PER_DAY - 1));
    for (const r of refused) {
      expect(r.json()).toMatchObject({ error: 'quota_exceeded', limit: 'messages_per_day', max: MESSAGES_PER_DAY, used: MESSAGES_PER_DAY, requested: 1 });
      const retryAfter = Number(r.headers['retry-after']);
      expect(Math.abs(retryAfter - secondsToMidnightUtc())).toBeLessThan(30);
    }
    const rows = await stack.database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE account_id = $1', [accountId]);
    expect(rows.rows[0]?.n).toBe(MESSAGES_PER_DAY);

    // A replay of an accepted request still answers its first response, over quota or not.
    const replay = await send(0, { 'idempotency-key': 'daily-1' });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toEqual(first.json());
  });

  it('refuses a group larger than QUOTA_RECIPIENTS_PER_GROUP (403), in one call or by appends, and counts a started group against the day', async () => {
    const { apiKey } = await stack.newAccount('group quota');
    const channelId = await stack.createSmsChannel({ apiKey });
    const recipients = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ to: `+1555333${String(from + i).padStart(4, '0')}` }));
    const group = (n: number, extra: Record<string, unknown> = {}) =>
      call(stack.app, apiKey, 'POST', '/v1/group-messages', { channel_id: channelId, body: 'hi', recipients: recipients(n), ...extra });

    const tooBig = await group(RECIPIENTS_PER_GROUP + 1);
    expect(tooBig.statusCode).toBe(403);
    expect(tooBig.json()).toMatchObject({
      error: 'quota_exceeded',
      limit: 'recipients_per_group',
      max: RECIPIENTS_PER_GROUP,
      requested: RECIPIENTS_PER_GROUP + 1,
    });

    const draft = await group(3, { draft: true });
    expect(draft.statusCode).toBe(201);
    const draftId = draft.json<{ id: string }>().id;
    const append = await call(stack.app, apiKey, 'POST', `/v1/group-messages/${draftId}/recipients`, { recipients: recipients(3, 100) });
    expect(append.statusCode).toBe(403);
    expect(append.json()).toMatchObject({ error: 'quota_exceeded', limit: 'recipients_per_group', max: RECIPIENTS_PER_GROUP });

    // 5 + 3 of the day's 10: the next group of 5 does not fit and stays a draft.
    expect((await group(RECIPIENTS_PER_GROUP)).statusCode).toBe(202);
    expect((await call(stack.app, apiKey, 'POST', `/v1/group-messages/${draftId}/start`)).statusCode).toBe(202);
    const over = await group(RECIPIENTS_PER_GROUP);
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ error: 'quota_exceeded', limit: 'messages_per_day', used: 8, requested: RECIPIENTS_PER_GROUP, status: 'draft' });
    const stored = await call(stack.app, apiKey, 'GET', `/v1/group-messages/${over.json<{ id: string }>().id}`);
    expect(stored.json()).toMatchObject({ status: 'draft', total: RECIPIENTS_PER_GROUP });
    expect((await call(stack.app, apiKey, 'POST', '/v1/messages', { channel_id: channelId, to: '+15553330999', body: 'fits' })).statusCode).toBe(202);
  });

  it("refuses a channel past QUOTA_CHANNELS_PER_ACCOUNT (403), also under concurrent creations; an account's own quota wins over the default", async () => {
    const { accountId, apiKey } = await stack.newAccount('channel quota');
    const create = () =>
      call(stack.app, apiKey, 'POST', '/v1/channels', { channel_type: 'sms', provider: 'twilio', name: 'sms', credentials: stack.twilioCredentials });
    const answers = await Promise.all(Array.from({ length: CHANNELS + 4 }, create));
    expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(CHANNELS);
    const refused = answers.filter((r) => r.statusCode === 403);
    expect(refused).toHaveLength(4);
    expect(refused[0]?.json()).toMatchObject({ error: 'quota_exceeded', limit: 'channels_per_account', max: CHANNELS, used: CHANNELS });
    const rows = await stack.database.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM channels WHERE account_id = $1', [accountId]);
    expect(rows.rows[0]?.n).toBe(CHANNELS);

    // The account's own quota (cli account quota) wins over the default; `null` goes back to it.
    expect(await setAccountQuotas(stack.database.db, accountId, { channels: CHANNELS + 1 })).toBe(true);
    expect((await create()).statusCode).toBe(201);
    expect((await create()).json()).toMatchObject({ limit: 'channels_per_account', max: CHANNELS + 1 });
    expect(await accountQuotaReport(stack.database.db, accountId, stack.config.quotas)).toContainEqual({
      limit: 'channels_per_account',
      own: CHANNELS + 1,
      effective: CHANNELS + 1,
      used: CHANNELS + 1,
    });
    await setAccountQuotas(stack.database.db, accountId, { channels: null });
    expect((await create()).json()).toMatchObject({ limit: 'channels_per_account', max: CHANNELS, used: CHANNELS + 1 });
  });
});

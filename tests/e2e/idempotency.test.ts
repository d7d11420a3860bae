import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../db/uuidv7';
import { startStack, type TestStack } from '../support/stack';

describe('Idempotency-Key on POST /v1/messages', () => {
  let stack: TestStack;
  let channelId: string;
  beforeAll(async () => {
    stack = await startStack();
    channelId = await stack.createSmsChannel();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (key: string | undefined, body: Record<string, unknown>) =>
    stack.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${stack.apiKey}`, ...(key === undefined ? {} : { 'idempotency-key': key }) },
      payload: body,
    });
  const sendsTo = (to: string) => stack.twilio.requests.filter((r) => r.form.To === to).length;

  it('returns the first response and sends once, also under concurrent retries', async () => {
    const body = { channel_id: channelId, to: '+15553330001', body: 'once' };
    const first = await post('order-1001', body);
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBe('false');
    const again = await Promise.all([1, 2, 3, 4, 5].map(() => post('order-1001', body)));
    for (const r of again) {
      expect(r.statusCode).toBe(202);
      expect(r.json()).toEqual(first.json());
      expect(r.headers['idempotent-replayed']).toBe('true');
    }
    await stack.waitForStatus(first.json<{ id: string }>().id, 'delivered');
    expect(sendsTo('+15553330001')).toBe(1);

    const concurrent = await Promise.all([1, 2, 3, 4, 5, 6].map(() => post('order-1002', { ...body, to: '+15553330002' })));
    const ids = new Set(concurrent.map((r) => (r.statusCode === 202 ? r.json<{ id: string }>().id : `status ${r.statusCode}`)));
    expect(ids.size).toBe(1);
    await stack.waitForStatus([...ids][0] ?? '', 'delivered');
    expect(sendsTo('+15553330002')).toBe(1);
  });

  it('refuses the same key with another body (422) and a malformed key (400)', async () => {
    await post('order-2001', { channel_id: channelId, to: '+15553330003', body: 'a' });
    const other = await post('order-2001', { channel_id: channelId, to: '+15553330003', body: 'b' });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ error: 'idempotency_key_reused' });
    const bad = await post('has spaces and ü', { channel_id: channelId, to: '+15553330003', body: 'a' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'Idempotency-Key' });
  });

  it('finishes a creation whose first attempt died after reserving the key', async () => {
    const body = { channel_id: channelId, to: '+15553330004', body: 'recovered' };
    const reserved = uuidv7();
    const { createHash } = await import('node:crypto');
    await stack.database.pool.query('INSERT INTO idempotency_keys (account_id, key, request_hash, resource_id) VALUES ($1, $2, $3, $4)', [
      stack.accountId,
      'order-3001',
      createHash('sha256').update(JSON.stringify(body)).digest('hex'),
      reserved,
    ]);
    const res = await post('order-3001', body);
    expect(res.statusCode).toBe(202);
    expect(res.json<{ id: string }>().id).toBe(reserved);
    await stack.waitForStatus(reserved, 'delivered');
  });
});

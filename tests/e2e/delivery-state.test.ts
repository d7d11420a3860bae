import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioSignature } from '../../sandbox/twilio/wire';
import { advanceStatus, insertMessage } from '../../db/messages';
import { eventually, startStack, type TestStack } from '../support/stack';

// Receipts as providers really send them: duplicated, out of order, before the
// send returns, after the workflow has finished. Status must only move forward,
// and each transition must be recorded once.

const NO_CALLBACKS = '+15005550605';

describe('delivery state under real-world webhooks', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack();
    channelId = await stack.createSmsChannel();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const send = async (to: string) => {
    const r = await stack.sendMessage({ channel_id: channelId, to, body: 'hello' });
    expect(r.status).toBe(202);
    return r.body.id ?? '';
  };
  const callbackUrl = (id: string) => stack.twilio.requests.find((r) => (r.form.StatusCallback ?? '').includes(id))?.form.StatusCallback ?? '';
  /** Posts a Twilio status callback signed the way Twilio signs it. */
  const postStatus = async (url: string, params: Record<string, string>) => {
    const u = new URL(url);
    const res = await stack.app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(stack.twilioAccount.authToken, url, params),
      },
      payload: new URLSearchParams(params).toString(),
    });
    return res.statusCode;
  };
  const statusParams = (sid: string, status: string, to = NO_CALLBACKS): Record<string, string> => ({
    MessageSid: sid,
    SmsSid: sid,
    AccountSid: stack.twilioAccount.sid,
    From: '+15017122661',
    To: to,
    MessageStatus: status,
    SmsStatus: status,
    ApiVersion: '2010-04-01',
  });
  const events = async (id: string) => {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/messages/${id}/events`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    return res.json<{ events: Array<{ status: string; source: string; run: number }> }>().events;
  };

  it('race: the provider calls back delivered before its send response returns → delivered', async () => {
    const id = await send('+15005550604');
    const m = await stack.waitForStatus(id, 'delivered');
    expect(m.sent_at).not.toBeNull();
    expect((await events(id)).map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered']);
    // The receipts came while the send was in flight: the row took them, the send's result carried
    // `delivered`, and no signal reached the workflow (one would have failed the task that sent it).
    const handle = stack.temporal.workflow.getHandle(`message-${id}`);
    expect(await handle.result()).toMatchObject({ status: 'delivered' });
    const history = (await handle.fetchHistory()).events ?? [];
    expect(history.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(0);
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
    expect(history.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    const delivered = stack.logs
      .filter((l) => l.event === 'webhook_received' && l.message_id === id)
      .flatMap((l) => (l.statuses as Array<{ status: string; outcome: string[] }> | undefined) ?? [])
      .filter((s) => s.status === 'delivered');
    expect(delivered.map((s) => s.outcome)).toEqual([['applied']]);
  });

  it('a final receipt after the send was recorded wakes the waiting workflow with a signal', async () => {
    const id = await send(NO_CALLBACKS);
    await stack.waitForStatus(id, 'sent');
    const handle = stack.temporal.workflow.getHandle(`message-${id}`);
    const sid = (await stack.getMessage(id)).body.provider_message_id as string;
    expect(await postStatus(callbackUrl(id), statusParams(sid, 'delivered'))).toBe(204);
    expect(await handle.result()).toMatchObject({ status: 'delivered' });
    const history = (await handle.fetchHistory()).events ?? [];
    expect(history.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(1);
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
  });

  it('late: read after the workflow completed updates the row directly, with no new run', async () => {
    const id = await send('+15551239876');
    const delivered = await stack.waitForStatus(id, 'delivered');
    const handle = stack.temporal.workflow.getHandle(`message-${id}`);
    await handle.result();
    expect(await postStatus(callbackUrl(id), statusParams(delivered.provider_message_id ?? '', 'read', '+15551239876'))).toBe(204);
    const read = await stack.waitForStatus(id, 'read');
    expect(read.read_at).not.toBeNull();
    // A stale "sent" afterwards changes nothing.
    expect(await postStatus(callbackUrl(id), statusParams(delivered.provider_message_id ?? '', 'sent', '+15551239876'))).toBe(204);
    await new Promise((r) => setTimeout(r, 200));
    expect((await stack.getMessage(id)).body.status).toBe('read');
    const runs: string[] = [];
    for await (const w of stack.temporal.workflow.list({ query: `WorkflowId = "message-${id}"` })) runs.push(w.runId);
    expect(runs).toHaveLength(1);
    const ev = await events(id);
    expect(ev.map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered', 'read']);
    expect(ev.at(-1)?.source).toBe('webhook');
  });

  it('a receipt for an unknown provider id is kept and applied once the send records that id', async () => {
    // No message_id in the URL: correlation by (channel, provider id) only, and the id is not known yet.
    const url = `${stack.config.publicBaseUrl}/webhooks/sms/${channelId}`;
    expect(await postStatus(url, statusParams('SM0123456789abcdef0123456789abcdef', 'delivered'))).toBe(204);
    const { rows } = await stack.database.pool.query<{ status: string }>(
      'SELECT status FROM pending_status_updates WHERE channel_id = $1 AND provider_message_id = $2',
      [channelId, 'SM0123456789abcdef0123456789abcdef'],
    );
    expect(rows.map((r) => r.status)).toEqual(['delivered']);
  });

  it('a receipt by provider id alone for a message of an older month moves its row, once', async () => {
    // Four months back: outside the recent window the first lookup reads.
    const then = Date.now() - 120 * 86_400_000;
    await stack.database.pool.query('SELECT ensure_message_partitions($1::date, 0)', [new Date(then).toISOString().slice(0, 10)]);
    const m = await insertMessage(
      stack.database.db,
      { accountId: stack.accountId, channelId, channelType: 'sms', to: NO_CALLBACKS, body: 'old', metadata: {} },
      then,
    );
    const sid = 'SMa1d0a1d0a1d0a1d0a1d0a1d0a1d0a1d0';
    expect(await advanceStatus(stack.database.db, m.id, { status: 'sent', at: new Date(then), providerMessageId: sid })).toBe(true);
    const url = `${stack.config.publicBaseUrl}/webhooks/sms/${channelId}`;
    expect(await postStatus(url, statusParams(sid, 'delivered'))).toBe(204);
    expect(await postStatus(url, statusParams(sid, 'delivered'))).toBe(204);
    expect((await stack.getMessage(m.id)).body.status).toBe('delivered');
    expect((await events(m.id)).map((e) => [e.status, e.source])).toEqual([
      ['queued', 'api'],
      ['sent', 'worker'],
      ['delivered', 'webhook'],
    ]);
  });

  it('inbound: the same inbound webhook three times stores one message and opens the window', async () => {
    const url = `${stack.config.publicBaseUrl}/webhooks/sms/${channelId}`;
    const inbound = {
      MessageSid: 'SMfeedfacefeedfacefeedfacefeedface',
      SmsSid: 'SMfeedfacefeedfacefeedfacefeedface',
      AccountSid: stack.twilioAccount.sid,
      From: '+15557654321',
      To: '+15017122661',
      Body: 'STOP? no, hello!',
      NumMedia: '0',
      SmsStatus: 'received',
      ApiVersion: '2010-04-01',
    };
    for (let i = 0; i < 3; i++) expect(await postStatus(url, inbound)).toBe(200);
    const { rows } = await stack.database.pool.query<{ id: string; body: string; direction: string; status: string }>(
      `SELECT id, body, direction, status FROM messages WHERE channel_id = $1 AND metadata_->>'provider_message_id' = $2`,
      [channelId, inbound.MessageSid],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ body: 'STOP? no, hello!', direction: 'inbound' });
    const win = await stack.database.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM contact_windows WHERE channel_id = $1 AND contact = $2', [
      channelId,
      '+15557654321',
    ]);
    expect(win.rows[0]?.n).toBe('1');

    const list = await stack.app.inject({
      method: 'GET',
      url: `/v1/messages?direction=inbound&channel_id=${channelId}&limit=10`,
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(list.statusCode).toBe(200);
    const items = list.json<{ items: Array<{ id: string; direction: string; provider_message_id: string }> }>().items;
    expect(items.map((m) => [m.id, m.direction, m.provider_message_id])).toEqual([[rows[0]?.id, 'inbound', inbound.MessageSid]]);
    const bad = await stack.app.inject({ method: 'GET', url: '/v1/messages?limit=5000', headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'limit' });
  });

  it('refuses unknown channels, bad signatures, oversized and malformed bodies with 4xx, counted, changing nothing', async () => {
    const id = await send(NO_CALLBACKS);
    const sent = await stack.waitForStatus(id, 'sent');
    const url = callbackUrl(id);
    const u = new URL(url);
    const before = await stack.apiMetrics.webhookRejected.get();
    const count = (reason: string, snap: typeof before) => snap.values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0);

    const unknown = await stack.app.inject({
      method: 'POST',
      url: `/webhooks/sms/01a00000-0000-7000-8000-000000000000`,
      payload: 'a=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(unknown.statusCode).toBe(404);
    const badType = await stack.app.inject({
      method: 'POST',
      url: `/webhooks/fax/${channelId}`,
      payload: 'a=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(badType.statusCode).toBe(404);
    const params = statusParams(sent.provider_message_id ?? '', 'delivered');
    const wrongSig = await stack.app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature('not-the-token', url, params) },
      payload: new URLSearchParams(params).toString(),
    });
    expect(wrongSig.statusCode).toBe(401);
    const huge = await stack.app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `Body=${'x'.repeat(300 * 1024)}`,
    });
    expect(huge.statusCode).toBe(413);
    // Signed, but not a Twilio callback at all.
    const junk = { Hello: 'world' };
    const malformed = await stack.app.inject({
      method: 'POST',
      url: u.pathname + u.search,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(stack.twilioAccount.authToken, url, junk) },
      payload: new URLSearchParams(junk).toString(),
    });
    expect(malformed.statusCode).toBe(400);

    const after = await stack.apiMetrics.webhookRejected.get();
    expect(count('unknown_channel', after) - count('unknown_channel', before)).toBe(2);
    expect(count('invalid_signature', after) - count('invalid_signature', before)).toBe(1);
    expect(count('body_too_large', after) - count('body_too_large', before)).toBe(1);
    expect(count('malformed_payload', after) - count('malformed_payload', before)).toBe(1);
    const m = (await stack.getMessage(id)).body;
    expect(m.status).toBe('sent');
    expect((await events(id)).map((e) => e.status)).toEqual(['queued', 'sending', 'sent']);
  });

  it('property: 10,000 shuffled, duplicated, delayed callbacks for 1,000 messages end at each message’s highest status, recorded once', async () => {
    const PATHS: string[][] = [
      ['queued', 'sent', 'delivered', 'read'],
      ['queued', 'sent', 'delivered'],
      ['queued', 'sent', 'undelivered'],
      ['queued', 'sent', 'failed'],
      ['sent'],
    ];
    const N = 1000;
    const TOTAL = 10_000;
    let seed = 20261128;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };

    const ids: string[] = [];
    for (let i = 0; i < N; i += 50) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => send(NO_CALLBACKS)))));
    }
    const sent = await eventually(
      async () => {
        const r = await stack.database.pool.query<{ id: string; pid: string }>(
          `SELECT id, metadata_->>'provider_message_id' AS pid FROM messages WHERE id = ANY($1::uuid[]) AND status = 'sent'`,
          [ids],
        );
        return r.rows.length === N ? new Map(r.rows.map((x) => [x.id, x.pid])) : undefined;
      },
      120_000,
      500,
    );

    const plan = ids.map((id, i) => ({ id, path: PATHS[i % PATHS.length] ?? [] }));
    const callbacks: Array<{ id: string; status: string }> = [];
    for (const p of plan) for (const status of p.path) callbacks.push({ id: p.id, status });
    while (callbacks.length < TOTAL) {
      const c = callbacks[Math.floor(rand() * callbacks.length)];
      if (c) callbacks.push({ ...c });
    }
    for (let i = callbacks.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [callbacks[i], callbacks[j]] = [callbacks[j] as { id: string; status: string }, callbacks[i] as { id: string; status: string }];
    }
    const urls = new Map(ids.map((id) => [id, callbackUrl(id)]));
    let cursor = 0;
    const codes = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (cursor < callbacks.length) {
          const cb = callbacks[cursor++];
          if (!cb) break;
          if (rand() < 0.05) await new Promise((r) => setTimeout(r, Math.floor(rand() * 50)));
          const code = await postStatus(urls.get(cb.id) ?? '', statusParams(sent.get(cb.id) ?? '', cb.status));
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(codes)).toEqual({ 204: TOTAL });

    const RANK: Record<string, number> = { queued: 0, sending: 1, sent: 2, delivered: 3, read: 4, undelivered: 5, failed: 5 };
    const expected = new Map(plan.map((p) => [p.id, p.path.reduce((a, s) => ((RANK[s] ?? 0) > (RANK[a] ?? 0) ? s : a), 'sent')]));
    await eventually(
      async () => {
        const r = await stack.database.pool.query<{ id: string; status: string }>('SELECT id, status FROM messages WHERE id = ANY($1::uuid[])', [ids]);
        const wrong = r.rows.filter((x) => expected.get(x.id) !== x.status);
        return wrong.length === 0 ? true : undefined;
      },
      120_000,
      500,
    );

    const ev = await stack.database.pool.query<{ message_id: string; statuses: string[] }>(
      `SELECT message_id, array_agg(status ORDER BY id) AS statuses FROM message_events WHERE message_id = ANY($1::uuid[]) GROUP BY message_id`,
      [ids],
    );
    expect(ev.rows).toHaveLength(N);
    for (const row of ev.rows) {
      const ranks = row.statuses.map((s) => RANK[s] ?? -1);
      // Strictly increasing: no status twice, no step backwards.
      expect(
        ranks.every((r, i) => i === 0 || r > (ranks[i - 1] ?? -1)),
        `${row.message_id}: ${row.statuses.join(' → ')}`,
      ).toBe(true);
      expect(row.statuses.at(-1)).toBe(expected.get(row.message_id));
    }
  }, 400_000);
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import { groupWorkflowId, SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { DELIVERY_TIMEOUT_TIMER } from '../../workflows/group-batches';
import { eventually, startStack, type TestStack } from '../support/stack';
import { waitForGroupView, type GroupView } from '../support/group-view';

// Batched groups on real Temporal + Postgres + the Twilio simulator: the group's own workflow
// sends its recipients in pages through sendBatch activities; no recipient has a workflow of
// its own until it is replayed.

const DELIVERY_WAIT_SECONDS = 15;
const number = (i: number) => `+1556${String(i).padStart(7, '0')}`;
const recipients = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ to: number(from + i) }));
/** Scripted by the Twilio simulator: refused for good (21610), and accepted but never called back. */
const UNSUBSCRIBED = '+15005550009';
const SILENT = '+15005550605';

const summaryOf = (e: temporal.api.history.v1.IHistoryEvent): string | undefined => {
  const data = e.userMetadata?.summary?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
};

describe('batched group fan-out', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack({
      // info: the webhook route's receipt_signal lines, which batched recipients must not produce.
      logLevel: 'info',
      env: {
        DELIVERY_WAIT_SECONDS_SMS: String(DELIVERY_WAIT_SECONDS),
        DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered',
        SEND_INITIAL_INTERVAL_MS: '200',
        SEND_MAX_INTERVAL_MS: '2000',
        GROUP_BATCH_SIZE: '250',
        // 20 % 5xx and 10 % 429 fail 8 attempts in a row for ~6 % of 1,000-recipient runs; 12 for ~0.05 %.
        SEND_MAX_ATTEMPTS: '12',
      },
    });
    channelId = await stack.createSmsChannel({ name: 'batched sms', rate_limit_per_second: 10_000 });
  });
  afterAll(async () => {
    await stack?.close();
  });
  const created: string[] = [];
  afterEach(async () => {
    stack.twilio.setMode({ error5xxRate: 0, rateLimitRate: 0, timeoutRate: 0, permanentAll: false });
    for (const id of created.splice(0)) await call('POST', `/group-messages/${id}/cancel`).catch(() => undefined);
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.apiUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${stack.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (method === 'POST' && path === '/group-messages' && typeof json.id === 'string') created.push(json.id);
    return { status: res.status, body: json };
  };
  const getGroup = async (id: string) => (await call('GET', `/group-messages/${id}`)).body as GroupView;
  const waitForGroup = (id: string, done: (g: GroupView) => boolean, timeoutMs = 120_000) => waitForGroupView(getGroup, id, done, timeoutMs);
  const groupHistory = async (id: string) => {
    const handle = stack.temporal.workflow.getHandle(groupWorkflowId(id));
    const runs: temporal.api.history.v1.IHistoryEvent[][] = [];
    for (let runId: string | undefined = (await handle.describe()).runId; runId;) {
      const events: temporal.api.history.v1.IHistoryEvent[] = (await stack.temporal.workflow.getHandle(groupWorkflowId(id), runId).fetchHistory()).events ?? [];
      runs.push(events);
      runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    return runs;
  };
  const requestsOf = (body: string) => stack.twilio.requests.filter((r) => r.form.Body === body);
  const messageIdOf = (r: { form: Record<string, string> }) => new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? '';
  const rowsOf = async (id: string) =>
    (
      await stack.database.pool.query<{ id: string; to_address: string; status: string; error_code: string | null; workflow_id: string | null }>(
        'SELECT id, to_address, status, error_code, workflow_id FROM messages WHERE group_message_id = $1 ORDER BY group_seq',
        [id],
      )
    ).rows;
  it('sends 1,500 recipients from the group workflow alone: pages, outcomes on the rows, receipts without Temporal, the delivery timeout', async () => {
    const body = 'Batched sale';
    const list = [...recipients(1498), { to: UNSUBSCRIBED }, { to: SILENT }];
    const res = await call('POST', '/group-messages', { channel_id: channelId, body, recipients: list });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    expect(res.body).toMatchObject({ status: 'running', mode: 'batched', total: 1500 });

    // While it sends, the group shows its rate and an ETA.
    const midway = await waitForGroup(id, (g) => g.status !== 'running' || (g.sent + g.delivered > 0 && g.send_rate_per_second > 0), 60_000);
    if (midway.status === 'running') expect(midway.send_rate_per_second).toBeGreaterThan(0);

    const done = await waitForGroup(id, (g) => g.delivered === 1498 && g.failed === 1 && g.undelivered === 1, 120_000);
    expect(done).toMatchObject({ status: 'completed', total: 1500, queued: 0, sending: 0, sent: 0, remaining: 0, eta_seconds: null });

    // Every recipient was sent exactly once, by its own message id; none has a workflow of its own.
    const rows = await rowsOf(id);
    expect(rows).toHaveLength(1500);
    expect(rows.every((r) => r.workflow_id === null)).toBe(true);
    const sent = requestsOf(body);
    expect(sent.length).toBe(1500);
    expect(new Set(sent.map(messageIdOf))).toEqual(new Set(rows.map((r) => r.id)));
    expect(rows.find((r) => r.to_address === UNSUBSCRIBED)).toMatchObject({ status: 'failed', error_code: '21610' });
    expect(rows.find((r) => r.to_address === SILENT)).toMatchObject({ status: 'undelivered', error_code: 'delivery_timeout' });
    const children = await stack.temporal.workflow.count(`${SEARCH_ATTRIBUTES.groupMessageId.name} = "${id}" AND WorkflowType = "dispatchMessage"`);
    expect(children.count).toBe(0);
    // Receipts were written by the webhook route and woke nothing: no signal went out for them.
    const ids = new Set(rows.map((r) => r.id));
    expect(stack.logs.filter((l) => l.event === 'receipt_signal' && ids.has(String(l.message_id)))).toEqual([]);

    // One workflow: its history is small, its activities name their recipients, the delivery wait is a timer.
    const runs = await groupHistory(id);
    const events = runs.flat();
    process.stdout.write(`batched group: 1,500 recipients, ${runs.length} run(s), ${events.length} history events\n`);
    expect(events.length).toBeLessThanOrEqual(150);
    const batches = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendBatch').map(summaryOf);
    expect(batches).toContain('send: recipients 1–250');
    expect(batches).toContain('send: recipients 1,251–1,500');
    expect(events.some((e) => e.timerStartedEventAttributes && summaryOf(e) === DELIVERY_TIMEOUT_TIMER)).toBe(true);

    // Each row is a message like any other: listed by group, with its events.
    const page = await call('GET', `/messages?group_message_id=${id}&status=delivered&limit=5`);
    expect(page.status).toBe(200);
    const first = (page.body.items as Array<{ id: string; status: string; body: string }>)[0];
    expect(first?.body).toBe(body);
    const ev = await call('GET', `/messages/${first?.id}/events`);
    expect((ev.body.events as Array<{ status: string }>).map((e) => e.status)).toEqual(expect.arrayContaining(['queued', 'sent', 'delivered']));
  }, 180_000);

  it('retries through 20 % 5xx and 429 bursts: every recipient delivered, none failed, the retries counted', async () => {
    const body = 'Batched through faults';
    const before = await stack.workerMetrics.registry.getMetricsAsJSON();
    const attemptsOf = (metrics: typeof before, outcome: string) =>
      (metrics.find((m) => m.name === 'turumba_send_attempts_total')?.values ?? [])
        .filter((v) => v.labels.outcome === outcome)
        .reduce((a, v) => a + v.value, 0);
    stack.twilio.setMode({ error5xxRate: 0.2, rateLimitRate: 0.1, retryAfterSec: 1 });
    const res = await call('POST', '/group-messages', { channel_id: channelId, body, recipients: recipients(1000, 10_000) });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    const done = await waitForGroup(id, (g) => g.delivered === 1000 || g.failed > 0, 150_000);
    const failures = (await rowsOf(id)).filter((r) => r.status === 'failed');
    expect(failures.map((r) => r.error_code)).toEqual([]);
    expect(done).toMatchObject({ status: 'completed', delivered: 1000, failed: 0, undelivered: 0 });
    const after = await stack.workerMetrics.registry.getMetricsAsJSON();
    const transient = attemptsOf(after, 'transient') - attemptsOf(before, 'transient');
    const limited = attemptsOf(after, 'rate_limited') - attemptsOf(before, 'rate_limited');
    process.stdout.write(
      `batched group through faults: ${requestsOf(body).length} provider calls for 1000 recipients, ${transient} transient and ${limited} rate-limited attempts\n`,
    );
    expect(transient).toBeGreaterThan(50);
    expect(limited).toBeGreaterThan(20);
    // Each recipient was accepted once: the retried calls are the refused ones.
    const accepted = new Set((await rowsOf(id)).map((r) => r.id));
    expect(accepted.size).toBe(1000);
  }, 200_000);

  it('pauses within one batch, resumes to the end, and cancels with every row terminal', async () => {
    // 80/s on 250-recipient batches: a batch is ~3 s, the group ~25 s.
    const slow = (
      await stack.createChannel({
        channel_type: 'sms',
        provider: 'twilio',
        name: 'slow batched',
        rate_limit_per_second: 80,
        credentials: stack.twilioCredentials,
      })
    ).id;
    const body = 'Batched pause';
    const res = await call('POST', '/group-messages', { channel_id: slow, body, recipients: recipients(2000, 20_000) });
    const id = res.body.id as string;
    await eventually(async () => (requestsOf(body).length >= 300 ? true : undefined), 60_000, 100);
    expect((await call('POST', `/group-messages/${id}/pause`)).status).toBe(202);
    await waitForGroup(id, (g) => g.status === 'paused', 30_000);
    const atPause = requestsOf(body).length;
    // Batches in flight finish (at most GROUP_BATCHES_IN_FLIGHT × 250 more); then nothing moves.
    expect(atPause).toBeLessThanOrEqual(300 + 3 * 250 + 250);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(requestsOf(body).length).toBe(atPause);
    expect(atPause).toBeLessThan(2000);

    expect((await call('POST', `/group-messages/${id}/resume`)).status).toBe(202);
    const done = await waitForGroup(id, (g) => g.delivered === 2000, 120_000);
    expect(done.status).toBe('completed');
    expect(requestsOf(body).length).toBe(2000);

    const cancelBody = 'Batched cancel';
    const c = await call('POST', '/group-messages', { channel_id: slow, body: cancelBody, recipients: recipients(2000, 30_000) });
    const cid = c.body.id as string;
    await eventually(async () => (requestsOf(cancelBody).length >= 300 ? true : undefined), 60_000, 100);
    expect((await call('POST', `/group-messages/${cid}/cancel`)).status).toBe(202);
    const cancelled = await waitForGroup(cid, (g) => g.status === 'cancelled', 30_000);
    const atCancel = requestsOf(cancelBody).length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(requestsOf(cancelBody).length).toBe(atCancel);
    expect(atCancel).toBeLessThan(2000);
    // What was sent is delivered; nothing is left queued, and the rest was never made.
    const rows = await rowsOf(cid);
    expect(rows.filter((r) => r.status === 'queued' || r.status === 'sending')).toEqual([]);
    expect(cancelled.remaining).toBe(2000 - rows.length);
    expect(rows.length).toBe(atCancel + rows.filter((r) => r.status === 'failed').length);
  }, 240_000);

  it('replays a failed batched recipient as its own dispatchMessage workflow', async () => {
    const body = 'Batched replay';
    stack.twilio.setMode({ permanentAll: true });
    const res = await call('POST', '/group-messages', { channel_id: channelId, body, recipients: recipients(20, 40_000) });
    const id = res.body.id as string;
    await waitForGroup(id, (g) => g.failed === 20, 60_000);
    stack.twilio.setMode({ permanentAll: false });
    const [row] = await rowsOf(id);
    expect(row).toMatchObject({ status: 'failed', workflow_id: null });
    const replay = await call('POST', `/messages/${row?.id}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body.workflow_id).toBe(`message-${row?.id}`);
    await stack.waitForStatus(row?.id ?? '', 'delivered', 60_000);
    const run = await stack.temporal.workflow.getHandle(`message-${row?.id}`).describe();
    expect(run.type).toBe('dispatchMessage');
    // The others stay failed; the group's count follows its rows.
    const g = await getGroup(id);
    expect(g).toMatchObject({ failed: 19, delivered: 1 });
  }, 120_000);
});

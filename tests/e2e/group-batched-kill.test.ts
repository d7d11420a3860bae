import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startStack, type StackInfra, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// A batched group survives its worker being SIGKILLed twice mid-batch: every recipient ends
// terminal, none is lost, and every recipient the provider saw twice is one whose acceptance
// the dead worker had not yet written to its row.

const TOTAL = Number(process.env.GROUP_KILL_TEST_RECIPIENTS ?? 5000);
const number = (i: number) => `+1557${String(i).padStart(7, '0')}`;

describe('batched group under worker kills', () => {
  let stack: TestStack;
  let infra: StackInfra;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false, logLevel: 'warn' });
    infra = { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
  });
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await stack?.close();
  });

  it(`SIGKILL twice during a ${TOTAL}-recipient group: all terminal, none lost, every double send explained`, async () => {
    // 150/s: the group takes ~35 s, so both kills land mid-batch.
    const channel = await stack.createChannel({ channel_type: 'sms', provider: 'twilio', name: 'killed', rate_limit_per_second: 150, credentials: stack.twilioCredentials });
    worker = await startWorkerProcess(infra, stack.config.publicBaseUrl);
    const body = 'Batched kill';
    const res = await fetch(`${stack.apiUrl}/v1/group-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: channel.id, body, recipients: Array.from({ length: TOTAL }, (_, i) => ({ to: number(i) })) }),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const requests = () => stack.twilio.requests.filter((r) => r.form.Body === body);

    const kills: number[] = [];
    for (const share of [0.25, 0.6]) {
      await eventually(async () => (requests().length >= TOTAL * share ? true : undefined), 180_000, 50);
      kills.push(Date.now());
      await worker.stop('SIGKILL');
      worker = await startWorkerProcess(infra, stack.config.publicBaseUrl);
    }

    const counts = await eventually(async () => {
      const r = await stack.database.pool.query<{ status: string; n: string }>('SELECT status, count(*)::text AS n FROM messages WHERE group_message_id = $1 GROUP BY status', [id]);
      const by = Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
      const terminal = (by.delivered ?? 0) + (by.read ?? 0) + (by.failed ?? 0) + (by.undelivered ?? 0);
      return terminal === TOTAL ? by : undefined;
    }, 300_000, 500);
    expect(counts).toEqual({ delivered: TOTAL });
    const group = await stack.database.pool.query<{ status: string }>('SELECT status FROM group_messages WHERE id = $1', [id]);
    expect(group.rows[0]?.status).toBe('completed');

    // Every recipient has exactly one message, and the provider saw every one of them.
    const rows = await stack.database.pool.query<{ id: string; sent_at: Date }>('SELECT id, sent_at FROM messages WHERE group_message_id = $1', [id]);
    expect(rows.rows).toHaveLength(TOTAL);
    const byMessage = new Map<string, number[]>();
    for (const r of requests()) {
      const mid = new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? '';
      byMessage.set(mid, [...(byMessage.get(mid) ?? []), r.at]);
    }
    expect(new Set(byMessage.keys())).toEqual(new Set(rows.rows.map((r) => r.id)));
    // A double send is explained when a kill fell between its first call and the next: the
    // provider accepted it, and the worker died before the row said so.
    const doubles = [...byMessage.entries()].filter(([, at]) => at.length > 1);
    const unexplained = doubles.filter(([, at]) => !kills.some((k) => (at[0] ?? 0) <= k && k <= (at[1] ?? 0)));
    process.stdout.write(`batched group under 2 SIGKILLs: ${TOTAL} recipients, all delivered; ${doubles.length} sent twice (unexplained: ${unexplained.length})\n`);
    expect(unexplained).toEqual([]);
    // Each kill can only double what was in flight at that moment (a batch's concurrency, times the batches in flight).
    expect(doubles.length).toBeLessThanOrEqual(2 * 3 * 32);
  }, 480_000);
});

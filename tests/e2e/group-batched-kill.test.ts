import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startStack, type StackInfra, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// A batched group survives its worker being SIGKILLed twice mid-batch: every recipient ends
// terminal, none is lost, and every recipient the provider saw twice is one whose acceptance
// the dead worker had not yet written to its row, or whose earlier call got no answer.

const TOTAL = Number(process.env.GROUP_KILL_TEST_RECIPIENTS ?? 5000);
/**
 * A receipt the simulator gave up on (four tries, 5 s each, while the machine is busy) would leave
 * its row `sent` for a day: with a short wait ending undelivered, every row ends terminal either way.
 */
const DELIVERY = { DELIVERY_WAIT_SECONDS_SMS: '30', DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered' };
const number = (i: number) => `+1557${String(i).padStart(7, '0')}`;

describe('batched group under worker kills', () => {
  let stack: TestStack;
  let infra: StackInfra;
  let worker: WorkerProcess | undefined;
  const warnings: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false, logLevel: 'warn', env: DELIVERY });
    infra = { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
  });
  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await stack?.close();
  });

  it(`SIGKILL twice during a ${TOTAL}-recipient group: all terminal, none lost, every double send explained`, async () => {
    // 150/s: the group takes ~35 s, so both kills land mid-batch.
    const channel = await stack.createChannel({
      channel_type: 'sms',
      provider: 'twilio',
      name: 'killed',
      rate_limit_per_second: 150,
      credentials: stack.twilioCredentials,
    });
    worker = await startWorkerProcess(infra, stack.config.publicBaseUrl, DELIVERY);
    const body = 'Batched kill';
    const res = await fetch(`${stack.apiUrl}/v1/group-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: channel.id, body, recipients: Array.from({ length: TOTAL }, (_, i) => ({ to: number(i) })) }),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const requests = () => stack.twilio.requests.filter((r) => r.form.Body === body);

    const simulatorLag = monitorEventLoopDelay({ resolution: 10 });
    simulatorLag.enable();
    const kills: number[] = [];
    for (const share of [0.25, 0.6]) {
      await eventually(async () => (requests().length >= TOTAL * share ? true : undefined), 180_000, 50);
      kills.push(Date.now());
      await worker.stop('SIGKILL');
      warnings.push(...worker.warnings);
      worker = await startWorkerProcess(infra, stack.config.publicBaseUrl, DELIVERY);
    }

    let seen: Record<string, number> = {};
    const counts = await eventually(
      async () => {
        const r = await stack.database.pool.query<{ status: string; n: string }>(
          'SELECT status, count(*)::text AS n FROM messages WHERE group_message_id = $1 GROUP BY status',
          [id],
        );
        const by = Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
        seen = by;
        const terminal = (by.delivered ?? 0) + (by.read ?? 0) + (by.failed ?? 0) + (by.undelivered ?? 0);
        return terminal === TOTAL ? by : undefined;
      },
      300_000,
      500,
    ).catch(async (err: unknown) => {
      // What the group was doing when it stopped moving: its row, its rows' statuses, its workflow.
      const row = await stack.database.pool.query('SELECT status, cursor, started, materialized, updated_at FROM group_messages WHERE id = $1', [id]);
      const run = await stack.temporal.workflow
        .getHandle(`group-${id}`)
        .describe()
        .catch((e: unknown) => ({ error: String(e) }));
      const pending =
        'raw' in run
          ? run.raw.pendingActivities?.map((a) => ({ type: a.activityType?.name, attempt: a.attempt, state: a.state, failure: a.lastFailure?.message }))
          : run;
      const status = 'status' in run ? run.status.name : undefined;
      throw new Error(
        `${(err as Error).message}; rows ${JSON.stringify(seen)}; group ${JSON.stringify(row.rows[0])}; workflow ${status} pending ${JSON.stringify(pending)}`,
        { cause: err },
      );
    });
    simulatorLag.disable();
    // Delivered, but for receipts the simulator could not hand over: those time out, and nothing fails.
    const timedOut = await stack.database.pool.query<{ error_code: string | null }>(
      "SELECT error_code FROM messages WHERE group_message_id = $1 AND status = 'undelivered'",
      [id],
    );
    const droppedCallbacks = stack.twilio.callbacksSent.filter((c) => c.httpStatus < 200 || c.httpStatus >= 300).length;
    process.stdout.write(`batched group under kills: ${JSON.stringify(counts)}; ${droppedCallbacks} callback attempts refused or unreachable\n`);
    expect(timedOut.rows.every((r) => r.error_code === 'delivery_timeout')).toBe(true);
    expect((counts.delivered ?? 0) + timedOut.rows.length).toBe(TOTAL);
    expect(timedOut.rows.length).toBeLessThanOrEqual(Math.max(0, droppedCallbacks));
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
    // A double send is explained when a kill fell between its first call and the next (the
    // provider accepted it, and the worker died before the row said so; a call the dead worker
    // wrote may be read by the simulator up to its event loop's longest stall after the kill),
    // or when the worker's call before it ended without an answer (a timeout or a lost
    // connection: the provider may have accepted it). Nothing else may send twice.
    warnings.push(...worker.warnings);
    const lagMs = simulatorLag.max / 1e6;
    const ambiguous = new Set(
      warnings.filter((w) => w.event === 'send_attempt_failed' && (w.error_code === 'timeout' || w.error_code === 'network')).map((w) => String(w.message_id)),
    );
    const doubles = [...byMessage.entries()].filter(([, at]) => at.length > 1);
    const unexplained = doubles.filter(([mid, at]) => !ambiguous.has(mid) && !kills.some((k) => (at[0] ?? 0) - lagMs <= k && k <= (at[1] ?? 0)));
    process.stdout.write(
      `batched group under 2 SIGKILLs: ${TOTAL} recipients, all delivered; ${doubles.length} sent twice (after a call without an answer: ${doubles.filter(([mid]) => ambiguous.has(mid)).length}; unexplained: ${unexplained.length}; simulator stall ${lagMs.toFixed(0)} ms)\n`,
    );
    if (unexplained.length > 0) {
      // What the run did, for the failure message: the kills, the workers' warnings and the group's activity attempts.
      const history = await stack.temporal.workflow.getHandle(`group-${id}`).fetchHistory();
      const attempts = (history.events ?? []).flatMap((e) => {
        const timedOut = e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType;
        if (timedOut !== undefined && timedOut !== null) return [`timed out (${String(timedOut)})`];
        const failed = e.activityTaskFailedEventAttributes?.failure?.message;
        return failed ? [`failed: ${failed}`] : [];
      });
      const codes = [...new Set(warnings.map((w) => `${String(w.event)}/${String(w.error_code)}`))];
      const first = unexplained.slice(0, 5).map(([mid, at]) => ({ mid, at, said: warnings.filter((w) => w.message_id === mid).map((w) => w.err) }));
      expect.fail(
        `${unexplained.length} unexplained double sends; kills at ${JSON.stringify(kills)}; warnings ${JSON.stringify(codes)}; attempts ended ${JSON.stringify(attempts)}; first ${JSON.stringify(first)}`,
      );
    }
    // Each kill can only double what was in flight at that moment (a batch's concurrency, times the batches in flight).
    expect(doubles.length).toBeLessThanOrEqual(2 * 3 * 32);
  }, 480_000);
});

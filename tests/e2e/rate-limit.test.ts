import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import { RATE_LIMIT_TIMER } from '../../workflows/definitions';
import { eventually, startStack, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// Two worker processes share one channel limited to 20/s. The limiter lives in
// PostgreSQL, so the provider must never see more than 20 sends in a second.

const RATE = 20;
const MESSAGES = 400;
/**
 * The simulator timestamps requests when its event loop gets to them, in a process shared with
 * the API, and a worker's send leaves when its event loop gets to it: a stall of L ms in either
 * bunches up to RATE × L / 1000 sends into a later window, and a send held by both adds both.
 * The tolerance is two sends plus what the simulator's largest stall and the workers' largest,
 * together, explain.
 */
const BASE_TOLERANCE = 2;

/** The timer's summary as the Web UI shows it (a JSON string payload). */
function timerSummary(e: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const data = e.userMetadata?.summary?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
}

/** The most of these (sorted) times that fall in any one-second window. */
function densestSecond(times: readonly number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('shared rate limit across two worker processes', () => {
  let stack: TestStack;
  const workers: WorkerProcess[] = [];

  // Both workers run as their own processes, as in production; this process only serves the
  // API and the simulator, so the simulator's clock is not held up by workflow work.
  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false });
    const infra = { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
    workers.push(...(await Promise.all([1, 2].map(() => startWorkerProcess(infra, stack.config.publicBaseUrl)))));
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await stack?.close();
  });

  /**
   * The window's allowance for stalls at `rate`: the simulator's largest event-loop stall (`lag`,
   * stopped here) plus each worker's largest since its readiness probe (prom-client resets the
   * maximum on every scrape and nothing else scrapes these workers). A send held up in a worker
   * leaves late and lands in a later window, just as one held up in the simulator is stamped late.
   */
  const stallTolerance = async (lag: IntervalHistogram, rate: number) => {
    lag.disable();
    const workerMetrics = await Promise.all(workers.map(async (w) => (await fetch(w.metricsUrl)).text()));
    const workerStalls = workerMetrics.map((t) => Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(t)?.[1] ?? 0) * 1000);
    const maxStallMs = lag.max / 1e6 + Math.max(0, ...workerStalls);
    return { maxStallMs, workerStalls, workerMetrics, tolerance: BASE_TOLERANCE + Math.ceil((rate * maxStallMs) / 1000) };
  };

  it(`never lets the provider see more than ${RATE} sends in any one-second window, and sleeps durably`, async () => {
    const channelId = await stack.createSmsChannel({ name: 'limited', rate_limit_per_second: RATE });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, k) => stack.sendMessage({ channel_id: channelId, to: `+1555100${String(i + k).padStart(4, '0')}`, body: 'limited' })),
      );
      ids.push(...batch.map((b) => b.body.id ?? ''));
    }
    await eventually(
      async () => {
        const r = await stack.database.pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE id = ANY($1::uuid[]) AND status IN ('sent', 'delivered')`,
          [ids],
        );
        return r.rows[0]?.n === String(MESSAGES) ? true : undefined;
      },
      120_000,
      500,
    );
    const { maxStallMs, workerStalls, workerMetrics, tolerance } = await stallTolerance(lag, RATE);

    const idSet = new Set(ids);
    const times = stack.twilio.requests
      .filter((r) => idSet.has(new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? ''))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(MESSAGES);
    const maxInWindow = densestSecond(times);
    process.stdout.write(
      `rate limit ${RATE}/s, ${MESSAGES} messages: at most ${maxInWindow} in any 1-s window (allowed ${RATE + tolerance}: stalls ${maxStallMs.toFixed(0)} ms: simulator ${(lag.max / 1e6).toFixed(0)}, workers ${workerStalls.map((x) => x.toFixed(0)).join(', ')} ms), ${(((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000).toFixed(1)} s first to last\n`,
    );
    expect(maxInWindow, `event-loop stalls ${maxStallMs.toFixed(0)} ms`).toBeLessThanOrEqual(RATE + tolerance);
    // 400 sends at 20/s cannot take much less than 20 s.
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(((MESSAGES - 1) / RATE) * 1000 - 500);

    // Both worker processes sent, and the shared limiter refused slots (counted per channel).
    let refusals = 0;
    for (const text of workerMetrics) {
      expect(Number(/turumba_dispatch_duration_seconds_count\{channel_type="sms"\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
      refusals += Number(new RegExp(`turumba_rate_limit_hits_total\\{[^}]*channel_id="${channelId}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
    }

    // Every refused slot is a durable timer, named as such, in that message's history (the delivery
    // wait is a timer too). Which messages wait depends on how fast the workers pick them up, so the
    // check is over all of them, not one.
    let slept = 0;
    for (let i = 0; i < ids.length; i += 50) {
      const histories = await Promise.all(ids.slice(i, i + 50).map((id) => stack.temporal.workflow.getHandle(`message-${id}`).fetchHistory()));
      slept += histories.filter((h) => h.events?.some((e) => e.timerStartedEventAttributes && timerSummary(e) === RATE_LIMIT_TIMER)).length;
    }
    process.stdout.write(`rate limit: ${slept} of ${MESSAGES} workflows slept in a durable timer; ${refusals} limiter refusals\n`);
    expect(refusals).toBeGreaterThan(0);
    expect(slept).toBeGreaterThan(0);
    expect(slept).toBeLessThanOrEqual(refusals);
  }, 180_000);

  it('paces a batched group at its channel rate of 50/s: never more in any one-second window, the waits durable timers in the group history', async () => {
    const rate = 50;
    const total = 1200;
    const channelId = await stack.createSmsChannel({ name: 'limited batched', rate_limit_per_second: rate });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const body = 'limited batched';
    const res = await fetch(`${stack.apiUrl}/v1/group-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel_id: channelId,
        body,
        recipients: Array.from({ length: total }, (_, i) => ({ to: `+1555200${String(i).padStart(4, '0')}` })),
      }),
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    await eventually(
      async () => {
        const r = await stack.database.pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE group_message_id = $1 AND sent_at IS NOT NULL`,
          [id],
        );
        return r.rows[0]?.n === String(total) ? true : undefined;
      },
      120_000,
      500,
    );
    const { maxStallMs, tolerance } = await stallTolerance(lag, rate);
    const times = stack.twilio.requests
      .filter((r) => r.form.Body === body)
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(total);
    const maxInWindow = densestSecond(times);
    process.stdout.write(
      `batched group at ${rate}/s, ${total} recipients: at most ${maxInWindow} in any 1-s window (allowed ${rate + tolerance}: stalls ${maxStallMs.toFixed(0)} ms), ${(((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000).toFixed(1)} s first to last\n`,
    );
    expect(maxInWindow, `event-loop stalls ${maxStallMs.toFixed(0)} ms`).toBeLessThanOrEqual(rate + tolerance);
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(((total - 1) / rate) * 1000 - 500);
    // The group waited for its later batches' slots on durable timers, named as such.
    const history = await stack.temporal.workflow.getHandle(`group-${id}`).fetchHistory();
    const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes && timerSummary(e) === RATE_LIMIT_TIMER).length;
    expect(timers).toBeGreaterThan(0);
  }, 180_000);
});

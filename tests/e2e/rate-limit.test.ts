import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startStack, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// Two worker processes share one channel limited to 20/s. The limiter lives in
// PostgreSQL, so the provider must never see more than 20 sends in a second.

const RATE = 20;
const MESSAGES = 400;
/**
 * The simulator timestamps requests when its event loop gets to them, in a process shared with
 * the API: a stall of L ms bunches up to RATE × L / 1000 arrivals into a later window. The
 * tolerance is two sends plus what the largest stall measured during the run explains.
 */
const BASE_TOLERANCE = 2;

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

  it(`never lets the provider see more than ${RATE} sends in any one-second window, and sleeps durably`, async () => {
    const channel = await stack.createChannel({
      channel_type: 'sms',
      provider: 'twilio',
      name: 'limited',
      rate_limit_per_second: RATE,
      credentials: {
        account_sid: stack.twilioAccount.sid,
        api_key: stack.twilioAccount.apiKey,
        api_secret: stack.twilioAccount.apiSecret,
        auth_token: stack.twilioAccount.authToken,
        from: '+15017122661',
        base_url: stack.twilio.url,
      },
    });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, k) => stack.sendMessage({ channel_id: channel.id, to: `+1555100${String(i + k).padStart(4, '0')}`, body: 'limited' })),
      );
      ids.push(...batch.map((b) => b.body.id ?? ''));
    }
    await eventually(async () => {
      const r = await stack.database.pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM messages WHERE id = ANY($1::uuid[]) AND status IN ('sent', 'delivered')`,
        [ids],
      );
      return r.rows[0]?.n === String(MESSAGES) ? true : undefined;
    }, 120_000, 500);
    lag.disable();
    const maxStallMs = lag.max / 1e6;
    const tolerance = BASE_TOLERANCE + Math.ceil((RATE * maxStallMs) / 1000);

    const idSet = new Set(ids);
    const times = stack.twilio.requests
      .filter((r) => idSet.has(new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? ''))
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(MESSAGES);
    let maxInWindow = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] ?? 0) - (times[j] ?? 0) >= 1000) j++;
      maxInWindow = Math.max(maxInWindow, i - j + 1);
    }
    process.stdout.write(`rate limit ${RATE}/s, ${MESSAGES} messages: at most ${maxInWindow} in any 1-s window (allowed ${RATE + tolerance}: largest stall ${maxStallMs.toFixed(0)} ms), ${(((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000).toFixed(1)} s first to last\n`);
    expect(maxInWindow, `largest event-loop stall ${maxStallMs.toFixed(0)} ms`).toBeLessThanOrEqual(RATE + tolerance);
    // 400 sends at 20/s cannot take much less than 20 s.
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(((MESSAGES - 1) / RATE) * 1000 - 500);

    // Both worker processes sent.
    for (const w of workers) {
      const text = await (await fetch(w.metricsUrl)).text();
      expect(Number(/turumba_dispatch_duration_seconds_count\{channel_type="sms"\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
    }

    // The message the provider saw last waited longest for its slot: in a durable timer.
    const lastSent = stack.twilio.requests.filter((r) => idSet.has(new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? '')).sort((a, b) => a.at - b.at).at(-1);
    const lastId = new URL(lastSent?.form.StatusCallback ?? 'http://x/').searchParams.get('message_id');
    const history = await stack.temporal.workflow.getHandle(`message-${lastId}`).fetchHistory();
    expect(history.events?.some((e) => e.timerStartedEventAttributes)).toBe(true);
  }, 180_000);
});

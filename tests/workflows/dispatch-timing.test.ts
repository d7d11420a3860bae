import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toFailure, type Activities } from '../../activities';
import { TransientSendError } from '../../adapters/types';
import type { MessageStatus } from '../../lifecycle';
import { loadConfig } from '../../config';
import { connect, type Database } from '../../db/client';
import { reserveSlot } from '../../db/rate-limiter';
import type { MessageRow } from '../../db/schema';
import { dispatchInput } from '../../dispatch/start';
import { deliveryStatusSignal, RATE_LIMIT_TIMER, type DeliveryStatus } from '../../workflows/definitions';
import type { dispatchMessage } from '../../workflows/dispatch-message';
import { startTimeSkipping } from './support';

// The message workflow's waits at their real lengths, in virtual time on the time-skipping
// test server: the 24 h delivery wait and its timeout action, the send's retry schedule, and a
// daily limit that holds the send until the next UTC day. The activities are fakes that keep
// what they were asked and when (virtual time); the daily limit is the real limiter, in the
// real database, asked at the virtual time.

type MessageActivities = Pick<Activities, 'reserveSendSlot' | 'sendMessage' | 'recordStatus' | 'recordFailure' | 'readStatus'>;

const HOUR = 3_600_000;

describe('message workflow timing in virtual time', () => {
  let env: TestWorkflowEnvironment;
  let database: Database;

  beforeAll(async () => {
    env = await startTimeSkipping();
    database = connect(inject('databaseUrl'), { max: 2 });
  });
  afterAll(async () => {
    await env?.teardown();
    await database?.close();
  });

  const message = (channelId = randomUUID()) => ({ id: randomUUID(), channelId, channelType: 'sms' }) as MessageRow;
  const now = () => env.currentTimeMs();

  /** Runs one dispatchMessage to its end on a worker with `activities`; returns its result or failure, and its history. */
  async function run(
    activities: Partial<MessageActivities>,
    config: ReturnType<typeof loadConfig>,
    m = message(),
    during?: (workflowId: string) => Promise<void>,
  ) {
    const taskQueue = `timing-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: {
        reserveSendSlot: async () => ({ waitMs: 0, reserved: true }),
        readStatus: async () => 'sent' as MessageStatus,
        ...activities,
      },
    });
    const workflowId = `message-${m.id}`;
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof dispatchMessage>('dispatchMessage', { taskQueue, workflowId, args: [dispatchInput(m, config)] });
      if (during) await during(workflowId);
      const outcome = await handle.result().then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      );
      const history = (await handle.fetchHistory()).events ?? [];
      return { ...outcome, history };
    });
  }

  const timersOf = (history: Awaited<ReturnType<typeof run>>['history']) =>
    history.flatMap((e) => {
      const t = e.timerStartedEventAttributes;
      if (!t) return [];
      const summary = e.userMetadata?.summary?.data ? (JSON.parse(Buffer.from(e.userMetadata.summary.data).toString('utf8')) as string) : undefined;
      return [{ seconds: Number(t.startToFireTimeout?.seconds ?? 0), summary }];
    });

  /** An event's (virtual) time, to the second. */
  const timeOf = (e: Awaited<ReturnType<typeof run>>['history'][number] | undefined) => Number(e?.eventTime?.seconds ?? 0) * 1000;

  const sent = async () => ({ providerMessageId: 'SM-virtual', status: 'sent' as MessageStatus });

  it('waits 24 h for a receipt, then marks the message undelivered when so configured', async () => {
    const config = loadConfig({ DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered' });
    expect(config.delivery.sms.waitSeconds).toBe(86_400);
    const recorded: Array<{ update: DeliveryStatus; at: number }> = [];
    const wallStart = Date.now();
    const startedAt = await now();
    const { result, history } = await run(
      {
        sendMessage: sent,
        recordStatus: async (_id, update) => {
          recorded.push({ update, at: await now() });
          return update.status;
        },
      },
      config,
    );
    expect(result).toEqual({ status: 'undelivered', providerMessageId: 'SM-virtual' });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.update).toMatchObject({ status: 'undelivered', errorCode: 'delivery_timeout', errorMessage: 'no receipt within 86400 s' });
    // A day passed for the workflow, seconds for us.
    expect((recorded[0]?.at ?? 0) - startedAt).toBeGreaterThanOrEqual(24 * HOUR);
    expect((recorded[0]?.at ?? 0) - startedAt).toBeLessThan(24 * HOUR + 60_000);
    expect(timersOf(history)).toEqual([{ seconds: 86_400, summary: 'waiting for a delivery receipt' }]);
    expect(Date.now() - wallStart).toBeLessThan(20_000);
  });

  it('keeps the status after the 24 h wait by default, having read the row first', async () => {
    const config = loadConfig({});
    expect(config.delivery.sms.onTimeout).toBe('keep');
    let reads = 0;
    let writes = 0;
    const startedAt = await now();
    const { result } = await run(
      {
        sendMessage: sent,
        readStatus: async () => {
          reads++;
          return 'sent';
        },
        recordStatus: async () => {
          writes++;
          return 'undelivered';
        },
      },
      config,
    );
    expect(result).toEqual({ status: 'sent', providerMessageId: 'SM-virtual' });
    expect(reads).toBe(1);
    expect(writes).toBe(0);
    expect((await now()) - startedAt).toBeGreaterThanOrEqual(24 * HOUR);
  });

  it('a receipt five hours in ends the wait there: delivered, no timeout', async () => {
    const config = loadConfig({ DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered' });
    let writes = 0;
    const { result, history } = await run(
      {
        sendMessage: sent,
        recordStatus: async () => {
          writes++;
          return 'undelivered';
        },
      },
      config,
      message(),
      async (workflowId) => {
        await env.sleep('5 hours');
        await env.client.workflow.getHandle(workflowId).signal(deliveryStatusSignal, { status: 'delivered', occurredAt: new Date(await now()).toISOString() });
      },
    );
    expect(result).toEqual({ status: 'delivered', providerMessageId: 'SM-virtual' });
    expect(writes).toBe(0);
    // The workflow ended when the receipt came, five hours into its day-long wait.
    const elapsed = timeOf(history.at(-1)) - timeOf(history[0]);
    expect(history.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    expect(elapsed).toBeGreaterThanOrEqual(5 * HOUR - 1000);
    expect(elapsed).toBeLessThan(6 * HOUR);
  });

  /** A provider that fails every send transiently; returns the attempts' virtual times. */
  const failingProvider = () => {
    const attempts: number[] = [];
    const failures: Array<{ code: string }> = [];
    const activities: Partial<MessageActivities> = {
      sendMessage: async () => {
        attempts.push(await now());
        throw toFailure(new TransientSendError('provider answered 503', 'http_503'));
      },
      recordFailure: async (_id, failure) => {
        failures.push(failure);
      },
    };
    return { attempts, failures, activities };
  };
  const gapsOf = (times: number[]) => times.slice(1).map((t, i) => (t - (times[i] ?? t)) / 1000);
  const expectGaps = (actual: number[], expected: number[]) => {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((gap, i) => expect(Math.abs(gap - (expected[i] ?? 0)), `gap ${i + 1}: ${gap} s, expected ${expected[i]} s`).toBeLessThan(1.5));
  };

  it('retries a transient failure on the default schedule (8 attempts, doubling from 1 s), then fails the message', async () => {
    const config = loadConfig({});
    expect([config.sendMaxAttempts, config.sendInitialIntervalMs, config.sendMaxIntervalMs]).toEqual([8, 1_000, 300_000]);
    const provider = failingProvider();
    const wallStart = Date.now();
    const { error, history } = await run(provider.activities, config);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as WorkflowFailedError).cause as { type?: string }).type).toBe('MessageSendFailed');
    expect(provider.failures).toEqual([{ code: 'http_503', message: 'provider answered 503' }]);
    expectGaps(gapsOf(provider.attempts), [1, 2, 4, 8, 16, 32, 64]);
    // Backoffs past a second wait on durable timers, not inside the worker.
    expect(timersOf(history).map((t) => t.seconds)).toEqual([2, 4, 8, 16, 32, 64]);
    expect(Date.now() - wallStart).toBeLessThan(30_000);
  });

  it('caps the backoff at SEND_MAX_INTERVAL_MS (300 s) when more attempts are allowed', async () => {
    const provider = failingProvider();
    await run(provider.activities, loadConfig({ SEND_MAX_ATTEMPTS: '12' }));
    expectGaps(gapsOf(provider.attempts), [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
  });

  it('holds a send past the daily limit until the next UTC day, on a named timer', async () => {
    const channelId = randomUUID();
    const sends: number[] = [];
    const activities: Partial<MessageActivities> = {
      // The real limiter and its table, asked at the workflow's (virtual) time: one send a day.
      reserveSendSlot: async () => reserveSlot(database.db, { channelId, perSecond: 10, dailyLimit: 1 }, new Date(await now())),
      sendMessage: async () => {
        sends.push(await now());
        return { providerMessageId: `SM-${sends.length}`, status: 'delivered' as MessageStatus };
      },
    };
    const config = loadConfig({});
    const first = await run(activities, config, message(channelId));
    expect(first.result?.status).toBe('delivered');
    const second = await run(activities, config, message(channelId));
    expect(second.result?.status).toBe('delivered');

    // The second message's hold, read off its history in the server's (virtual) time: it fires at
    // the first UTC midnight after it started, and the send comes after it.
    // (An activity's own clock reading can come later: the test server may skip time while a
    // local activity runs, once seen as a ten-year jump.)
    const started = second.history.find((e) => e.timerStartedEventAttributes);
    const fired = second.history.filter((e) => e.timerFiredEventAttributes);
    expect(fired).toHaveLength(1);
    const day = new Date(timeOf(started));
    const midnight = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
    expect(timeOf(fired[0])).toBeGreaterThanOrEqual(midnight);
    expect(timeOf(fired[0]) - midnight).toBeLessThan(60_000);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toBeGreaterThanOrEqual(midnight);
    const [timer] = timersOf(second.history);
    expect(timer?.summary).toBe(RATE_LIMIT_TIMER);
    expect(timer?.seconds).toBeGreaterThan(0);
    expect(timer?.seconds).toBeLessThanOrEqual(24 * 3600);
  });
});

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startStack, type StackInfra, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// SIGTERM to the worker in the middle of a 500-message load: it stops polling, lets
// the provider calls in flight finish, and exits; a new worker takes over. Nothing is
// lost and the engine sends nothing twice.

const MESSAGES = 500;

describe('graceful worker shutdown under load', () => {
  let stack: TestStack;
  let infra: StackInfra;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false });
    infra = { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await stack?.close();
  });

  it(`all ${MESSAGES} reach a terminal state after a new worker starts; none sent twice`, async () => {
    const channelId = await stack.createSmsChannel();
    const first = await startWorkerProcess(infra, stack.config.publicBaseUrl);
    workers.push(first);
    const ids: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < MESSAGES; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: 25 }, (_, k) => stack.sendMessage({ channel_id: channelId, to: `+1555300${String(i + k).padStart(4, '0')}`, body: 'drain' })),
        );
        ids.push(...batch.map((b) => b.body.id ?? ''));
      }
    })();
    // Stop the worker once it is well into the load.
    await eventually(async () => (stack.twilio.requests.length >= 100 ? true : undefined), 60_000, 20);
    const code = await first.stop('SIGTERM');
    expect(code).toBe(0);
    const sentBeforeStop = stack.twilio.requests.length;
    expect(sentBeforeStop).toBeLessThan(MESSAGES);
    await sending;

    workers.push(await startWorkerProcess(infra, stack.config.publicBaseUrl));
    await eventually(
      async () => {
        const r = await stack.database.pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM messages WHERE id = ANY($1::uuid[]) AND status IN ('delivered', 'undelivered', 'failed')`,
          [ids],
        );
        return r.rows[0]?.n === String(MESSAGES) ? true : undefined;
      },
      180_000,
      500,
    );

    const perMessage = new Map<string, number>();
    for (const r of stack.twilio.requests) {
      const id = new URL(r.form.StatusCallback ?? 'http://x/').searchParams.get('message_id') ?? '';
      perMessage.set(id, (perMessage.get(id) ?? 0) + 1);
    }
    expect(ids.every((id) => perMessage.get(id) === 1)).toBe(true);
    expect([...perMessage.values()].reduce((a, b) => a + b, 0)).toBe(MESSAGES);
  }, 300_000);
});

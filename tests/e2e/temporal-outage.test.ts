import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTemporalDevServer, type TemporalDevServer } from '../../cli/temporal-dev';
import { pendingSignalCount } from '../../db/pending-signals';
import { twilioSignature } from '../../sandbox/twilio/wire';
import { DISPATCH_TASK_QUEUE, type DispatchMessageResult } from '../../workflows/definitions';
import { eventually, startStack, type TestStack } from '../support/stack';

// Receipts are written where they arrive: with Temporal down, every webhook is still answered
// 2xx and every row takes its receipt at once; the signals wait in PostgreSQL, and once
// Temporal is back the sweeper delivers them and every workflow completes with that status.

const MESSAGES = 200;
const SILENT = '+15005550605'; // accepted by the simulator, which then posts no callbacks

describe('receipts while Temporal is down', () => {
  let dir: string;
  let port: number;
  let temporal: TemporalDevServer;
  let stack: TestStack;
  const startTemporal = () => startTemporalDevServer({ headless: true, port, dbFile: join(dir, 'temporal.sqlite'), logFile: join(dir, 'temporal.log') });

  beforeAll(async () => {
    const { inject } = await import('vitest');
    dir = mkdtempSync(join(tmpdir(), 'turumba-outage-'));
    port = await freePort();
    temporal = await startTemporal();
    stack = await startStack({
      infra: { databaseUrl: inject('databaseUrl'), temporalAddress: temporal.address, workflowBundlePath: inject('workflowBundlePath') },
      env: { DELIVERY_WAIT_SECONDS: '3600' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await temporal?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${MESSAGES} signed receipts 2xx with Temporal stopped, writes every row at once, and every workflow completes delivered once it is back`, async () => {
    const channelId = await stack.createSmsChannel();
    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, MESSAGES - i) }, () => stack.sendMessage({ channel_id: channelId, to: SILENT, body: 'outage drill' })),
      );
      for (const r of batch) {
        expect(r.status).toBe(202);
        ids.push(r.body.id ?? '');
      }
    }
    const sent = await Promise.all(ids.map((id) => stack.waitForStatus(id, 'sent', 60_000)));
    const requests = stack.twilio.requests;

    await temporal.stop();
    const started = Date.now();
    const answers: number[] = [];
    for (let i = 0; i < sent.length; i += 25) {
      answers.push(
        ...(await Promise.all(
          sent.slice(i, i + 25).map(async (m) => {
            const callbackUrl = requests.find((r) => (r.form.StatusCallback ?? '').includes(m.id))?.form.StatusCallback ?? '';
            const params = {
              MessageSid: m.provider_message_id ?? '',
              MessageStatus: 'delivered',
              AccountSid: stack.twilioAccount.sid,
              From: '+15017122661',
              To: SILENT,
            };
            const res = await fetch(callbackUrl, {
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                'x-twilio-signature': twilioSignature(stack.twilioAccount.authToken, callbackUrl, params),
              },
              body: new URLSearchParams(params).toString(),
            });
            return res.status;
          }),
        )),
      );
    }
    const answeredInMs = Date.now() - started;
    expect(answers.filter((s) => s < 200 || s >= 300)).toEqual([]);
    const rows = await Promise.all(ids.map(async (id) => (await stack.getMessage(id)).body.status));
    expect(rows.filter((s) => s !== 'delivered')).toEqual([]);
    // The signals left the requests: each is kept for the sweeper as Temporal refuses it.
    await eventually(async () => ((await pendingSignalCount(stack.database.db)) === MESSAGES ? true : undefined), 30_000, 200);
    expect(await pendingSignalCount(stack.database.db)).toBe(MESSAGES);
    console.info(`[measure] ${MESSAGES} receipts answered with Temporal down in ${answeredInMs} ms`);

    temporal = await startTemporal();
    // The outbox sweeper's run, as its schedule starts it, delivers the kept signals.
    await eventually(
      async () => {
        await stack.temporal.workflow.execute('sweepOutboxWorkflow', {
          taskQueue: DISPATCH_TASK_QUEUE,
          workflowId: `sweep-${Date.now()}`,
          args: [{ olderThanSeconds: 30, limit: 500 }],
        });
        return (await pendingSignalCount(stack.database.db)) === 0 ? true : undefined;
      },
      120_000,
      1_000,
    );
    const results = await Promise.all(ids.map((id) => stack.temporal.workflow.getHandle(`message-${id}`).result() as Promise<DispatchMessageResult>));
    expect(results.filter((r) => r.status !== 'delivered')).toEqual([]);
  }, 300_000);
});

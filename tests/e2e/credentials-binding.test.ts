import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startStack, type TestStack } from '../support/stack';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

// A channel's credentials are encrypted bound to its id: a ciphertext copied from one
// channel's row onto another's (a botched restore, a hand-edited row, an attacker with
// write access to the table) is refused there, and the send fails as a configuration
// error while the worker carries on.

describe("credentials copied onto another channel's row", () => {
  let stack: TestStack;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
  });

  it("fail that channel's send for good (credentials_unreadable), answer 409 at the API, leak nothing, and crash nothing", async () => {
    const a = await stack.createSmsChannel();
    const b = await stack.createSmsChannel({ credentials: { ...stack.twilioCredentials, auth_token: 'b-only-auth-token-7c1d' } });
    // Accepted while b's credentials are still its own; no worker runs yet.
    const accepted = await stack.sendMessage({ channel_id: b, to: '+15005550006', body: 'hello' });
    expect(accepted.status).toBe(202);

    await stack.database.pool.query('UPDATE channels SET credentials = (SELECT credentials FROM channels WHERE id = $1) WHERE id = $2', [a, b]);

    const refused = await stack.sendMessage({ channel_id: b, to: '+15005550006', body: 'again' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('channel_credentials_unreadable');
    expect(refused.body.message).toContain(b);
    expect(JSON.stringify(refused.body)).not.toContain(stack.twilioAccount.authToken);
    expect(JSON.stringify(refused.body)).not.toContain(stack.twilioAccount.apiSecret);

    const infra = { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
    worker = await startWorkerProcess(infra, stack.config.publicBaseUrl);
    const failed = await stack.waitForStatus(accepted.body.id ?? '', 'failed', 30_000);
    expect(failed.error?.code).toBe('credentials_unreadable');
    expect(failed.error?.message).toBe(
      `the credentials stored for channel ${b} cannot be decrypted: the ciphertext does not authenticate for this channel (copied from another channel, or altered)`,
    );
    // Failed on the first attempt: a configuration error is not retried.
    const events = await stack.database.pool.query<{ n: string }>("SELECT count(*) AS n FROM message_events WHERE message_id = $1 AND status = 'sending'", [
      accepted.body.id,
    ]);
    expect(Number(events.rows[0]?.n)).toBeLessThanOrEqual(1);

    // The worker is still up and the channel the ciphertext came from still sends.
    const ok = await stack.sendMessage({ channel_id: a, to: '+15005550006', body: 'still fine' });
    expect(ok.status).toBe(202);
    await stack.waitForStatus(ok.body.id ?? '', 'delivered', 30_000);
    expect(worker.child.exitCode).toBeNull();
  }, 120_000);
});

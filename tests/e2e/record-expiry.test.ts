import { randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRecordExpirySchedule } from '../../worker/schedules';
import { RECORD_EXPIRY_SCHEDULE_ID, type recordExpiry } from '../../workflows/record-expiry';
import { eventually, removeSchedule, startStack, type TestStack } from '../support/stack';

// The daily `record-expiry` schedule on the real Temporal server and worker: it runs
// recordExpiry on the dispatch queue, which deletes what is past each table's retention.

describe('record-expiry schedule', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack({ env: { RETENTION_DAYS_IDEMPOTENCY: '2', RETENTION_DAYS_PENDING_STATUS_UPDATES: '3', RETENTION_DAYS_INBOUND_DEDUP: '4' } });
    // A worker process of an earlier file may have created it already.
    await removeSchedule(stack.temporal, RECORD_EXPIRY_SCHEDULE_ID);
  });
  afterAll(async () => {
    if (stack) await removeSchedule(stack.temporal, RECORD_EXPIRY_SCHEDULE_ID);
    await stack?.close();
  });

  it('is registered daily on the dispatch queue and deletes rows past each retention, keeping newer ones', async () => {
    expect(await ensureRecordExpirySchedule(stack.temporal)).toBe('created');
    expect(await ensureRecordExpirySchedule(stack.temporal)).toBe('updated');
    const handle = stack.temporal.schedule.getHandle(RECORD_EXPIRY_SCHEDULE_ID);
    const desc = await handle.describe();
    expect(desc.spec.calendars).toMatchObject([{ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 41, end: 41, step: 1 }] }]);
    expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'recordExpiry', taskQueue: 'dispatch', workflowId: RECORD_EXPIRY_SCHEDULE_ID });
    expect(desc.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);

    const pool = stack.database.pool;
    const channel = randomUUID();
    const ages = [5, 3.5, 2.5, 1]; // days; retention 2 (keys), 3 (early receipts), 4 (inbound ids)
    for (const [i, days] of ages.entries()) {
      const at = new Date(Date.now() - days * 86_400_000);
      await pool.query(`INSERT INTO idempotency_keys (account_id, key, request_hash, resource_id, created_at) VALUES ($1, $2, 'h', $3, $4)`, [
        stack.accountId,
        `expiry-${channel}-${i}`,
        randomUUID(),
        at,
      ]);
      await pool.query(
        `INSERT INTO pending_status_updates (channel_id, provider_message_id, status, occurred_at, received_at) VALUES ($1, $2, 'delivered', now(), $3)`,
        [channel, `p${i}`, at],
      );
      await pool.query(`INSERT INTO inbound_dedup (channel_id, provider_message_id, message_id, received_at) VALUES ($1, $2, $3, $4)`, [
        channel,
        `p${i}`,
        randomUUID(),
        at,
      ]);
    }

    await handle.trigger();
    const workflowId = await eventually(async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId);
    const result = await stack.temporal.workflow.getHandle<typeof recordExpiry>(workflowId).result();
    expect(result.expired.map((e) => e.table)).toEqual(['idempotency_keys', 'pending_status_updates', 'inbound_dedup']);

    const keys = await pool.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE key LIKE $1 ORDER BY key', [`expiry-${channel}-%`]);
    expect(keys.rows.map((r) => r.key)).toEqual([`expiry-${channel}-3`]);
    const early = await pool.query<{ p: string }>('SELECT provider_message_id AS p FROM pending_status_updates WHERE channel_id = $1 ORDER BY 1', [channel]);
    expect(early.rows.map((r) => r.p)).toEqual(['p2', 'p3']);
    const inbound = await pool.query<{ p: string }>('SELECT provider_message_id AS p FROM inbound_dedup WHERE channel_id = $1 ORDER BY 1', [channel]);
    expect(inbound.rows.map((r) => r.p)).toEqual(['p1', 'p2', 'p3']);
  });
});

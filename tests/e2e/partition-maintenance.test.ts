import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ActivityFailure, Client, Connection, ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPartitionActivities } from '../../activities/partitions';
import { createScratchDatabase, seedMessages, type ScratchDatabase } from '../../bench/partitions';
import { listPartitions } from '../../db/archive/catalog';
import { readManifest } from '../../db/archive/manifest';
import { restoreArchive } from '../../db/archive/restore';
import { DirectoryArchiveStore } from '../../db/archive/store';
import { connect, type Database } from '../../db/client';
import { migrate } from '../../db/migrate';
import { createLogger } from '../../observability/logger';
import { ensurePartitionSchedule } from '../../worker/schedules';
import { PARTITION_SCHEDULE_ID, type partitionMaintenance, type PartitionMaintenanceResult } from '../../workflows/partition-maintenance';
import { eventually, removeSchedule, startStack, type TestStack } from '../support/stack';

// The partitionMaintenance workflow on the run's real Temporal server and a
// scratch database of its own (moving the clock a year ahead would archive the
// shared test database's months from under the other tests). The clock is moved
// by the `asOf` input, exactly where the schedule's fire time would go.

const ACCOUNTS = ['01900000-0000-7000-8000-0000000000e1', '01900000-0000-7000-8000-0000000000e2'];
const CHANNELS = ['01900001-0000-7000-8000-0000000000e1', '01900001-0000-7000-8000-0000000000e2'];
const SEEDED: Record<string, number> = { '2029-01': 1200, '2029-02': 800, '2029-04': 600, '2029-05': 700, '2029-06': 300, '2030-03': 100 };

describe('partition maintenance workflow (Temporal + PostgreSQL + archive directory)', () => {
  let scratch: ScratchDatabase;
  let database: Database;
  let dir: string;
  let worker: Worker;
  let running: Promise<void>;
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let client: Client;
  let fault: ((partition: string) => void) | undefined;
  const logs: Array<Record<string, unknown>> = [];
  const taskQueue = `partition-maintenance-test-${process.pid}`;
  let runs = 0;

  const pool = () => database.pool;
  const count = async (table: string) => (await pool().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
  const partitions = async () => (await listPartitions(pool())).map((p) => `${p.name}:${p.state}`);
  const run = (asOf: string) =>
    client.workflow.execute<typeof partitionMaintenance>('partitionMaintenance', {
      taskQueue,
      workflowId: `partition-maintenance-test-${process.pid}-${++runs}`,
      args: [{ asOf }],
    });
  /** Restores a month into a scratch table and compares it, row by row, with its snapshot taken before maintenance. */
  const restoredEqualsSnapshot = async (month: string) => {
    const partition = `messages_y${month.replace('-', 'm')}`;
    const manifest = (await readManifest(new DirectoryArchiveStore(dir), partition))!;
    const restored = await restoreArchive(pool(), new DirectoryArchiveStore(dir), partition, { table: `restored_${partition}` });
    const cols = manifest.columns.map((c) => `"${c}"`).join(', ');
    const { rows } = await pool().query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM (SELECT ${cols} FROM restored_${partition} EXCEPT ALL SELECT ${cols} FROM snap_${partition}) a)
             + (SELECT count(*) FROM (SELECT ${cols} FROM snap_${partition} EXCEPT ALL SELECT ${cols} FROM restored_${partition}) b))::int AS n`,
    );
    return { restored, manifest, differingRows: rows[0]!.n };
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase('turumba_maintenance');
    await migrate(scratch.url, new Date('2030-03-15T12:00:00Z'));
    database = connect(scratch.url, { max: 6 });
    await pool().query(`SELECT ensure_message_partitions('2029-01-01', 14)`);
    for (const [month, rows] of Object.entries(SEEDED)) {
      const from = new Date(`${month}-01T00:00:00Z`);
      const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
      await seedMessages(pool(), { from, to: month === '2030-03' ? new Date('2030-03-15T00:00:00Z') : to, rows, accounts: ACCOUNTS, channels: CHANNELS });
      await pool().query(`CREATE TABLE snap_messages_y${month.replace('-', 'm')} AS SELECT * FROM messages_y${month.replace('-', 'm')}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'turumba-maintenance-'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createPartitionActivities({
        db: database.db,
        logger: createLogger({ name: 'maintenance-test', destination: sink }),
        archiveDir: dir,
        retentionMonths: 12,
        afterArchive: (partition) => fault?.(partition),
      }),
    });
    running = worker.run();
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection, namespace: 'default' });
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await nativeConnection?.close();
    await connection?.close();
    await database?.close();
    await scratch?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a month later: creates the missing month ahead, archives and drops the expired months, archives restore identically', async () => {
    expect(await partitions()).toContain('messages_y2029m01:attached');
    const result: PartitionMaintenanceResult = await run('2030-04-20T02:17:00Z');

    expect(result).toEqual({
      asOf: '2030-04-20T02:17:00Z',
      cutoff: '2029-04-01T00:00:00.000Z',
      created: ['messages_y2030m07'],
      exported: ['messages_y2029m01', 'messages_y2029m02', 'messages_y2029m03'],
      dropped: [
        { partition: 'messages_y2029m01', rows: 1200 },
        { partition: 'messages_y2029m02', rows: 800 },
        { partition: 'messages_y2029m03', rows: 0 },
      ],
      finalized: [],
      keptUnarchived: [],
    });
    const now = await partitions();
    expect(now.filter((p) => /^messages_y2029m0[123]:/.test(p))).toEqual([]);
    expect(now).toContain('messages_y2029m04:attached');
    expect(now).toContain('messages_y2030m07:attached');

    for (const month of ['2029-01', '2029-02']) {
      const r = await restoredEqualsSnapshot(month);
      expect(r.restored.rows).toBe(SEEDED[month]);
      expect(r.restored.rows).toBe(r.manifest.rows);
      expect(r.restored.sha256).toBe(r.manifest.sha256);
      expect(r.restored.rowDigest).toBe(r.manifest.row_digest);
      expect(r.differingRows).toBe(0);
    }
    expect(logs.filter((l) => l.event === 'partition_archived').map((l) => [l.partition, l.rows])).toEqual([
      ['messages_y2029m01', 1200],
      ['messages_y2029m02', 800],
      ['messages_y2029m03', 0],
    ]);

    // The next day's run has nothing left to do.
    expect(await run('2030-04-21T02:17:00Z')).toMatchObject({ created: [], exported: [], dropped: [] });
  });

  it('killed between export and detach: the run fails, nothing is lost, the next run finishes the job', async () => {
    let armed = true;
    fault = (partition) => {
      if (armed && partition === 'messages_y2029m04') {
        armed = false;
        throw ApplicationFailure.nonRetryable('worker killed after the export', 'InjectedFault');
      }
    };
    const failed = await run('2030-06-10T02:17:00Z').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    const cause = (failed as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect((cause as ActivityFailure).cause).toMatchObject({ type: 'InjectedFault', message: 'worker killed after the export' });

    // Exported and verified, but still attached and whole.
    expect(await readManifest(new DirectoryArchiveStore(dir), 'messages_y2029m04')).toMatchObject({ rows: 600 });
    expect(await partitions()).toContain('messages_y2029m04:attached');
    expect(await count('messages_y2029m04')).toBe(600);
    expect(await partitions()).toContain('messages_y2029m05:attached');

    const result = await run('2030-06-10T02:17:00Z');
    expect(result).toMatchObject({
      cutoff: '2029-06-01T00:00:00.000Z',
      // messages_y2029m04's archive from the failed run is reused, not redone.
      exported: ['messages_y2029m05'],
      dropped: [
        { partition: 'messages_y2029m04', rows: 600 },
        { partition: 'messages_y2029m05', rows: 700 },
      ],
    });
    for (const month of ['2029-04', '2029-05']) {
      const r = await restoredEqualsSnapshot(month);
      expect(r.restored.rows).toBe(SEEDED[month]);
      expect(r.differingRows).toBe(0);
    }
    expect(readdirSync(dir).filter((f) => f.includes('.partial'))).toEqual([]);
  });
});

describe('the partition-maintenance schedule on the engine worker', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack();
    // Files share the run's Temporal server: a worker process started by an earlier file
    // (rate-limit, graceful-shutdown) has created the schedule already.
    await removeSchedule(stack.temporal, PARTITION_SCHEDULE_ID);
  });
  afterAll(async () => {
    if (stack) await removeSchedule(stack.temporal, PARTITION_SCHEDULE_ID);
    await stack?.close();
  });

  it('is created once, converges on rerun, and runs partitionMaintenance on the dispatch worker', async () => {
    expect(await ensurePartitionSchedule(stack.temporal)).toBe('created');
    expect(await ensurePartitionSchedule(stack.temporal, { hour: 3, minute: 5 })).toBe('updated');
    const handle = stack.temporal.schedule.getHandle(PARTITION_SCHEDULE_ID);
    const desc = await handle.describe();
    expect(desc.spec.calendars).toMatchObject([{ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 5, end: 5, step: 1 }] }]);
    expect(desc.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'partitionMaintenance',
      taskQueue: 'dispatch',
      workflowId: PARTITION_SCHEDULE_ID,
    });
    expect(desc.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(desc.policies.catchupWindow).toBe(86_400_000);

    await handle.trigger();
    const workflowId = await eventually(async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId);
    const result = await stack.temporal.workflow.getHandle<typeof partitionMaintenance>(workflowId).result();
    // The shared test database already has its months (migrate made them) and none has expired.
    expect(result).toMatchObject({ created: [], exported: [], dropped: [], finalized: [], keptUnarchived: [] });
    expect(workflowId.startsWith(`${PARTITION_SCHEDULE_ID}-`)).toBe(true);
  });
});

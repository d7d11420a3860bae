import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../cli/temporal-dev';
import { eventually } from '../support/stack';

// The README's first command, as a new user runs it: `npm run dev` on embedded defaults
// (its own Temporal dev server, PGlite, the simulators), then one message through it.

/** DESIGN.md's metric names: each process's /metrics carries all of them. */
const SEED_METRICS = [
  'turumba_messages_dispatched_total',
  'turumba_dispatch_duration_seconds',
  'turumba_dispatch_queue_depth',
  'turumba_dispatch_failure_rate',
  'turumba_rate_limit_hits_total',
  'turumba_group_message_fanout_duration_seconds',
  'turumba_outbox_pending_count',
  'turumba_webhook_response_seconds',
];

interface StackFile {
  api_url: string;
  api_key: string;
  channels: Record<string, string>;
  temporal_ui_url: string | null;
  api_metrics_url: string;
  worker_metrics_url: string;
}

describe('npm run dev', () => {
  let dir: string;
  let dev: ChildProcess;
  let output = '';
  let stack: StackFile;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'turumba-dev-'));
    const env: NodeJS.ProcessEnv = { ...process.env, DEV_DIR: dir, API_PORT: String(await freePort()), LOG_LEVEL: 'info' };
    for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_UI_URL', 'WORKER_METRICS_PORT', 'API_METRICS_PORT']) delete env[name];
    dev = spawn(process.execPath, ['--import', 'tsx', 'cli/dev.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    dev.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    dev.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const file = join(dir, 'stack.json');
    await eventually(
      async () => {
        if (dev.exitCode !== null) throw new Error(`npm run dev exited ${dev.exitCode}:\n${output}`);
        return existsSync(file) && output.includes('Turumba Dispatch is running.') ? true : undefined;
      },
      110_000,
      250,
    );
    stack = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
  }, 120_000);

  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      const exited = new Promise((res) => dev.once('exit', res));
      dev.kill('SIGINT');
      await Promise.race([exited, new Promise((res) => setTimeout(res, 20_000))]);
      if (dev.exitCode === null) dev.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists the worker's /metrics beside the API's, and both serve the seed metrics after one message", async () => {
    expect(stack.worker_metrics_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(stack.api_metrics_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(stack.worker_metrics_url).not.toBe(stack.api_metrics_url);

    const res = await fetch(`${stack.api_url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: stack.channels.sms, to: '+15551234567', body: 'Hello from the dev stack' }),
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; links: { temporal_ui: string | null } };
    // The dev stack fills in its own UI for the links.
    expect(stack.temporal_ui_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(accepted.links.temporal_ui).toBe(`${stack.temporal_ui_url}/namespaces/default/workflows/message-${accepted.id}`);
    await eventually(
      async () => {
        const m = await fetch(`${stack.api_url}/v1/messages/${accepted.id}`, { headers: { authorization: `Bearer ${stack.api_key}` } });
        return ((await m.json()) as { status: string }).status === 'delivered' ? true : undefined;
      },
      30_000,
      200,
    );

    const worker = await (await fetch(stack.worker_metrics_url)).text();
    for (const name of SEED_METRICS) expect(worker, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    // The worker made the send: its duration is the worker's, and the SDK's own metrics ride along.
    expect(worker).toMatch(/^turumba_dispatch_duration_seconds_count\{channel_type="sms"\} 1$/m);
    expect(worker).toMatch(/^temporal_/m);
    const api = await (await fetch(stack.api_metrics_url)).text();
    for (const name of SEED_METRICS) expect(api, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(api).toMatch(/^turumba_webhook_response_seconds_count\{channel_type="sms"\} [1-9]/m);
  });

  it('seeds one channel per type whose credentials its simulator accepts', async () => {
    expect(Object.keys(stack.channels).sort()).toEqual(['email', 'messenger', 'smpp', 'sms', 'whatsapp']);
    for (const [type, id] of Object.entries(stack.channels)) {
      const res = await fetch(`${stack.api_url}/v1/channels/${id}/verify`, { method: 'POST', headers: { authorization: `Bearer ${stack.api_key}` } });
      expect({ type, status: res.status, ok: ((await res.json()) as { ok?: boolean }).ok }).toEqual({ type, status: 200, ok: true });
    }
  });

  it('starts without warnings a new user cannot act on', () => {
    expect(output).not.toMatch(/No workflows registered/);
    expect(output).not.toMatch(/"level":"?(warn|error|40|50)/);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { connect as connectSocket, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRegistry } from '../../adapters';
import { EgressPolicy } from '../../adapters/egress';
import { buildApp } from '../../api/app';
import type { Config } from '../../config';
import { freePort } from '../../cli/temporal-dev';
import { connect, type Database } from '../../db/client';
import { createLogger } from '../../observability/logger';
import { createMetrics } from '../../observability/metrics';
import { eventually, startStack, type TestStack } from '../support/stack';

// The public API's edges on a real socket: timeouts against stalled clients, whom
// X-Forwarded-For is believed from, /metrics off the public port, and PostgreSQL going
// away answered as 503 + Retry-After.

interface Cut {
  /** What the server wrote before it closed (an HTTP response, or nothing). */
  response: string;
  afterMs: number;
}

/** Sends `head` and then `drip` (one chunk each `everyMs`, never the whole body); resolves when the server closes the socket. */
function stall(port: number, head: string, opts: { drip?: string; everyMs?: number; giveUpMs: number }): Promise<Cut | 'still open'> {
  return new Promise((resolve) => {
    const started = Date.now();
    let response = '';
    const socket: Socket = connectSocket({ host: '127.0.0.1', port }, () => socket.write(head));
    const drip = opts.drip ? setInterval(() => !socket.destroyed && socket.write(opts.drip ?? ''), opts.everyMs ?? 200) : undefined;
    const done = (r: Cut | 'still open') => {
      clearInterval(drip);
      clearTimeout(giveUp);
      socket.destroy();
      resolve(r);
    };
    const giveUp = setTimeout(() => done('still open'), opts.giveUpMs);
    socket.on('data', (c: Buffer) => (response += c.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => done({ response, afterMs: Date.now() - started }));
  });
}

const postHead = (apiKey: string, length: number) =>
  `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"channel_id":`;

describe('API hardening on a real socket', () => {
  let stack: TestStack;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false, env: { API_REQUEST_TIMEOUT_MS: '800', API_CONNECTION_TIMEOUT_MS: '1500' } });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await stack?.close();
  });

  /** Another app over the stack's Temporal, with its own log capture, config overrides and database. */
  const appWith = async (overrides: Partial<Config>, database: Database = stack.database) => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const app = await buildApp({
      config: { ...stack.config, ...overrides },
      database,
      temporal: stack.temporal,
      adapters: defaultRegistry(new EgressPolicy(stack.config.egressAllow)),
      logger: createLogger({ name: 'api', level: 'info', destination: sink }),
      metrics: createMetrics({ defaults: false }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    const port = (app.server.address() as { port: number }).port;
    return { app, lines, url: `http://127.0.0.1:${port}` };
  };

  it('cuts off a client that sends its headers and then stalls the body', async () => {
    const port = Number(new URL(stack.apiUrl).port);
    const cut = await stall(port, postHead(stack.apiKey, 200), { giveUpMs: 6_000 });
    expect(cut).not.toBe('still open');
    if (cut === 'still open') return;
    // Silent for API_CONNECTION_TIMEOUT_MS, or the whole request older than API_REQUEST_TIMEOUT_MS: either ends it.
    expect(cut.afterMs).toBeLessThan(4_000);
    expect(cut.response).not.toMatch(/^HTTP\/1\.1 [25]\d\d/);
  });

  it('cuts off a client that trickles its body forever (requestTimeout), with 408', async () => {
    const port = Number(new URL(stack.apiUrl).port);
    // One byte every 200 ms: the connection is never silent, so only the request timeout can end it.
    const cut = await stall(port, postHead(stack.apiKey, 10_000), { drip: ' ', everyMs: 200, giveUpMs: 6_000 });
    expect(cut).not.toBe('still open');
    if (cut === 'still open') return;
    expect(cut.afterMs).toBeLessThan(4_000);
    expect(cut.response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('answers a normal request under the same timeouts', async () => {
    const res = await fetch(`${stack.apiUrl}/health`);
    expect(res.status).toBe(200);
  });

  it('ignores X-Forwarded-For by default: the logged address is the socket peer', async () => {
    expect(stack.config.trustProxy).toBe(false);
    const channelId = await stack.createSmsChannel();
    const { lines, url } = await appWith({});
    const res = await fetch(`${url}/webhooks/sms/${channelId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.7' },
      body: 'MessageSid=SM1&MessageStatus=delivered',
    });
    expect(res.status).toBe(401);
    const rejected = await eventually(async () => lines.find((l) => l.event === 'webhook_rejected'));
    expect(rejected.remote_ip).toBe('127.0.0.1');

    // Told to trust the loopback proxy, the same request is logged under the forwarded client.
    const behindProxy = await appWith({ trustProxy: ['loopback'] });
    const res2 = await fetch(`${behindProxy.url}/webhooks/sms/${channelId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.7' },
      body: 'MessageSid=SM1&MessageStatus=delivered',
    });
    expect(res2.status).toBe(401);
    const proxied = await eventually(async () => behindProxy.lines.find((l) => l.event === 'webhook_rejected'));
    expect(proxied.remote_ip).toBe('203.0.113.7');
  });

  it('answers 503 with Retry-After, never 500, when PostgreSQL refuses connections', async () => {
    const closedPort = await freePort();
    const unreachable = connect(`postgres://postgres@127.0.0.1:${closedPort}/nothing`, { max: 2 });
    const { url, lines } = await appWith({}, unreachable);
    try {
      for (const path of ['/v1/messages/01900000-0000-7000-8000-000000000001', '/v1/channels/01900000-0000-7000-8000-000000000001']) {
        const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('2');
        expect(await res.json()).toEqual({ error: 'unavailable', message: 'temporarily unavailable; retry shortly' });
      }
      expect(lines.filter((l) => l.event === 'request_failed')).toEqual([]);
    } finally {
      await unreachable.close();
    }
  });

  it('answers 503 with Retry-After when the backend serving the request is terminated (admin shutdown, 57P01)', async () => {
    const appName = `hardening-${Date.now()}`;
    const dbUrl = new URL(stack.config.databaseUrl ?? '');
    dbUrl.searchParams.set('application_name', appName);
    const own = connect(dbUrl.toString(), { max: 1 });
    const { url } = await appWith({}, own);
    const lock = await stack.database.pool.connect();
    try {
      // The request's key lookup waits on this lock, so its backend is busy when it is terminated.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      const pending = fetch(`${url}/v1/channels/01900000-0000-7000-8000-000000000001`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
      const pid = await eventually(async () => {
        const r = await stack.database.pool.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND wait_event_type = 'Lock'",
          [appName],
        );
        return r.rows[0]?.pid;
      }, 10_000);
      await stack.database.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }
    // The pool replaces the dead connection: the next request is answered normally (no such channel).
    const after = await fetch(`${url}/v1/channels/01900000-0000-7000-8000-000000000001`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(after.status).toBe(404);
    await own.close();
  });
});

describe('the API process serves /metrics on API_METRICS_PORT, not on the public port', () => {
  let api: ChildProcess | undefined;
  afterAll(async () => {
    if (api && api.exitCode === null) {
      const gone = new Promise((r) => api?.once('exit', r));
      api.kill('SIGTERM');
      await gone;
    }
  });

  it('404 on the API port; turumba_* metrics on the metrics port', async () => {
    const { inject } = await import('vitest');
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const root = join(__dirname, '..', '..');
    api = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'api', 'main.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: inject('databaseUrl'),
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        API_HOST: '127.0.0.1',
        API_PORT: String(apiPort),
        API_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await eventually(async () => ((await fetch(`http://127.0.0.1:${apiPort}/health`)).ok ? true : undefined), 60_000, 250);
    const onApiPort = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
    expect(onApiPort.status).toBe(404);
    const onMetricsPort = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(onMetricsPort.status).toBe(200);
    const text = await onMetricsPort.text();
    expect(text).toContain('turumba_webhook_rejected_total');
    expect(text).toContain('process_cpu_seconds_total');
  }, 90_000);
});

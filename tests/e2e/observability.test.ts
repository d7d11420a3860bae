import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { twilioSignature } from '../../sandbox/twilio/wire';
import { createLogger } from '../../observability/logger';
import { freeLocalPort, startMetricsServer } from '../../observability/metrics-server';
import { partitionsAhead, pollPartitionsAhead } from '../../observability/partitions-ahead';
import { pollQueueDepth } from '../../observability/queue-depth';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../observability/trace-worker';
import { traceIdOf } from '../../observability/trace-header';
import { installTemporalRuntime } from '../../observability/temporal-runtime';
import type { ChannelType } from '../../lifecycle';
import { messageTaskQueue, type DispatchMessageInput } from '../../workflows/definitions';
import { eventually, startStack, type TestStack } from '../support/stack';

type Series = Map<string, number>;
type Lines = Array<Record<string, unknown>>;

/** Prometheus text → "name{a="1",b="2"}" (labels sorted) → value. */
function parseMetrics(text: string): Series {
  const out: Series = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m?.[1] || !m[3]) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort();
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}
const key = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;
const delta = (before: Series, after: Series, name: string, labels: Record<string, string> = {}) =>
  (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);

/** Decodes the trace header of a history event's header fields. */
const headerTrace = (header: temporal.api.common.v1.IHeader | null | undefined) => traceIdOf(header?.fields ?? {});

const newTrace = () => randomBytes(16).toString('hex');
const traceparent = (traceId: string) => `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

describe('observability on the running engine (metrics, trace_id, logs)', () => {
  let stack: TestStack;
  let channelId: string;
  let bundleDir: string;
  let workerMetricsUrl: string;
  let closeWorkerMetrics: () => void;
  const sdkLines: Lines = [];

  beforeAll(async () => {
    // Before any connection: the SDK's Prometheus exporter (one runtime per process; the stack's
    // own install becomes a no-op) with its logs captured here.
    const sdkMetricsPort = await freeLocalPort();
    const sdkSink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) sdkLines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    installTemporalRuntime(createLogger({ name: 'sdk', destination: sdkSink }), { prometheusBindAddress: `127.0.0.1:${sdkMetricsPort}` });

    // The workflow interceptors live in the bundle (as cli/bundle-workflows.ts must build it).
    bundleDir = mkdtempSync(join(tmpdir(), 'turumba-obs-'));
    const { code } = await bundleWorkflowCode({
      workflowsPath: join(__dirname, '..', '..', 'workflows', 'index.ts'),
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: {
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: (m: string) => process.stderr.write(`${m}\n`),
        log: () => undefined,
      },
    });
    const workflowBundlePath = join(bundleDir, 'workflow-bundle.js');
    writeFileSync(workflowBundlePath, code);

    stack = await startStack({ infra: { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath } });
    channelId = await smsChannel(10_000);
    const server = await startMetricsServer({
      registry: stack.workerMetrics.registry,
      port: 0,
      host: '127.0.0.1',
      sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics`,
      logger: createLogger({ name: 'metrics-server', destination: sdkSink }),
    });
    workerMetricsUrl = server.url;
    closeWorkerMetrics = () => server.close();
  }, 180_000);

  afterAll(async () => {
    closeWorkerMetrics?.();
    await stack?.close();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  /** A sandbox Twilio channel; a high rate keeps the shared limiter out of exact counts. */
  const smsChannel = async (ratePerSecond: number) =>
    (
      await stack.createChannel({
        channel_type: 'sms',
        provider: 'twilio',
        name: `observability ${ratePerSecond}/s`,
        rate_limit_per_second: ratePerSecond,
        credentials: stack.twilioCredentials,
      })
    ).id;
  const scrapeApi = async () => parseMetrics(await (await fetch(stack.apiMetricsUrl)).text());
  const scrapeWorker = async () => parseMetrics(await (await fetch(workerMetricsUrl)).text());
  const send = async (to: string, traceId?: string) => {
    const r = await stack.sendMessage({ channel_id: channelId, to, body: 'Your code is 123456' }, traceId ? { traceparent: traceparent(traceId) } : {});
    expect(r.status).toBe(202);
    return r.body.id ?? '';
  };
  const callbacksFor = (ids: string[]) => stack.twilio.callbacksSent.filter((c) => ids.some((id) => c.url.includes(id)));
  const workerLines = (messageId: string) => stack.logs.filter((l) => l.name === 'worker' && l.message_id === messageId);
  const history = async (workflowId: string) => (await stack.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];

  it('counts success, permanent failure, retried 5xx, 429 and webhooks with exact deltas on both /metrics', async () => {
    // The 429 goes through a channel of its own: its rate-limit hits are then exactly the provider's.
    const throttleChannel = await smsChannel(10_000);
    const [workerBefore, apiBefore] = await Promise.all([scrapeWorker(), scrapeApi()]);

    const ok = await send('+15551230001');
    const permanent = await send('+15005550001');
    const retried = await send('+15005550500');
    const throttled = (await stack.sendMessage({ channel_id: throttleChannel, to: '+15005550429', body: 'Your code is 123456' })).body.id ?? '';
    await Promise.all([
      stack.waitForStatus(ok, 'delivered'),
      stack.waitForStatus(permanent, 'failed'),
      stack.waitForStatus(retried, 'delivered'),
      stack.waitForStatus(throttled, 'delivered'),
    ]);
    // queued, sent, delivered for each of the three accepted messages, each answered 2xx.
    const callbacks = await eventually(async () => {
      const c = callbacksFor([ok, retried, throttled]);
      return c.length === 9 ? c : undefined;
    });
    expect(callbacks.every((c) => c.httpStatus >= 200 && c.httpStatus < 300)).toBe(true);
    // Each transition is counted once, by the process that wrote it to the row: the worker
    // the sends and failures, the API the receipts it applied.
    const api = await eventually(async () => {
      const s = await scrapeApi();
      return delta(apiBefore, s, 'turumba_messages_dispatched_total', { channel_type: 'sms', status: 'delivered' }) === 3 ? s : undefined;
    });
    const worker = await scrapeWorker();

    const d = (name: string, labels: Record<string, string>) => delta(workerBefore, worker, name, labels);
    expect({
      sent: d('turumba_messages_dispatched_total', { channel_type: 'sms', status: 'sent' }),
      delivered: d('turumba_messages_dispatched_total', { channel_type: 'sms', status: 'delivered' }),
      failed: d('turumba_messages_dispatched_total', { channel_type: 'sms', status: 'failed' }),
      ok: d('turumba_send_attempts_total', { channel_type: 'sms', outcome: 'ok' }),
      permanent: d('turumba_send_attempts_total', { channel_type: 'sms', outcome: 'permanent' }),
      transient: d('turumba_send_attempts_total', { channel_type: 'sms', outcome: 'transient' }),
      rateLimited: d('turumba_send_attempts_total', { channel_type: 'sms', outcome: 'rate_limited' }),
      providerCalls: d('turumba_dispatch_duration_seconds_count', { channel_type: 'sms' }),
      providerCallsInf: d('turumba_dispatch_duration_seconds_bucket', { channel_type: 'sms', le: '+Inf' }),
      rateLimitHits: d('turumba_rate_limit_hits_total', { channel_id: throttleChannel }),
    }).toEqual({
      sent: 3,
      delivered: 0,
      failed: 1,
      ok: 3,
      permanent: 1,
      transient: 2,
      rateLimited: 1,
      providerCalls: 7,
      providerCallsInf: 7,
      rateLimitHits: 1,
    });
    expect(d('turumba_dispatch_duration_seconds_sum', { channel_type: 'sms' })).toBeGreaterThan(0);

    // The gauge is the worker's own 5-minute window: everything this process sent so far.
    const total = (outcome: string) => worker.get(key('turumba_send_attempts_total', { channel_type: 'sms', outcome })) ?? 0;
    const failures = total('permanent') + total('transient') + total('error');
    const attempts = failures + total('ok') + total('rate_limited');
    expect(worker.get(key('turumba_dispatch_failure_rate', { channel_type: 'sms' }))).toBeCloseTo(failures / attempts, 10);

    // The API answered every callback, wrote the receipts and signalled the open workflows.
    expect(delta(apiBefore, api, 'turumba_webhook_response_seconds_count', { channel_type: 'sms' })).toBe(9);
    expect(delta(apiBefore, api, 'turumba_webhook_response_seconds_bucket', { channel_type: 'sms', le: '+Inf' })).toBe(9);
    expect(
      Object.fromEntries(
        ['sent', 'delivered', 'failed'].map((status) => [status, delta(apiBefore, api, 'turumba_messages_dispatched_total', { channel_type: 'sms', status })]),
      ),
    ).toEqual({ sent: 0, delivered: 3, failed: 0 });
    // Worker-only series are not exported by the API at all.
    expect([...api.keys()].some((k) => k.startsWith('turumba_dispatch_failure_rate') || k.startsWith('turumba_partitions_ahead_months'))).toBe(false);
  });

  it("counts the shared limiter's refusals per channel", async () => {
    const slow = await smsChannel(1);
    const before = await scrapeWorker();
    const ids = await Promise.all(
      ['+15551230201', '+15551230202', '+15551230203'].map(async (to) => {
        const r = await stack.sendMessage({ channel_id: slow, to, body: 'slow lane' });
        return r.body.id ?? '';
      }),
    );
    await Promise.all(ids.map((id) => stack.waitForStatus(id, 'delivered')));
    // One slot a second: the first message goes at once, the next two are refused and sleep.
    expect(delta(before, await scrapeWorker(), 'turumba_rate_limit_hits_total', { channel_id: slow })).toBe(2);
  });

  it('a status applied after the workflow ended is counted by the API process', async () => {
    const id = await send('+15005550605'); // accepted, but the simulator posts no callbacks
    await stack.waitForStatus(id, 'sent');
    await stack.temporal.workflow.getHandle(`message-${id}`).terminate('observability test: the workflow has ended');
    const [workerBefore, apiBefore] = await Promise.all([scrapeWorker(), scrapeApi()]);

    const callbackUrl = stack.twilio.requests.find((r) => (r.form.StatusCallback ?? '').includes(id))?.form.StatusCallback ?? '';
    const sent = await stack.getMessage(id);
    const params = {
      MessageSid: sent.body.provider_message_id ?? '',
      MessageStatus: 'delivered',
      AccountSid: stack.twilioAccount.sid,
      From: '+15017122661',
      To: '+15005550605',
    };
    const res = await fetch(callbackUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(stack.twilioAccount.authToken, callbackUrl, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.ok).toBe(true);
    expect((await stack.getMessage(id)).body.status).toBe('delivered');

    const [worker, api] = await Promise.all([scrapeWorker(), scrapeApi()]);
    expect(delta(apiBefore, api, 'turumba_messages_dispatched_total', { channel_type: 'sms', status: 'delivered' })).toBe(1);
    expect(delta(workerBefore, worker, 'turumba_messages_dispatched_total', { channel_type: 'sms', status: 'delivered' })).toBe(0);
    const line = stack.logs.find((l) => l.event === 'webhook_received' && l.message_id === id);
    expect(line?.statuses).toEqual([
      { message_id: id, provider_message_id: params.MessageSid, status: 'delivered', outcome: ['signalling'], trace_id: sent.body.trace_id },
    ]);
    // The signal leaves the request; the workflow had ended, so it was not needed.
    const signalled = await eventually(async () => stack.logs.find((l) => l.event === 'receipt_signal' && l.message_id === id), 10_000, 50);
    expect(signalled.result).toBe('closed');
  });

  it('follows one message by its trace_id: API → workflow headers and memo → activity logs → provider → webhook log', async () => {
    const traceId = newTrace();
    const accepted = await stack.sendMessage({ channel_id: channelId, to: '+15551230002', body: 'Your code is 123456' }, { traceparent: traceparent(traceId) });
    expect(accepted.body.trace_id).toBe(traceId);
    const id = accepted.body.id ?? '';
    await stack.waitForStatus(id, 'delivered');
    await eventually(async () => (callbacksFor([id]).length === 3 ? true : undefined));

    // Workflow: the start carries the header (client interceptor) and the memo. Its slot and
    // send are local activities: markers in history, no scheduled events (that they carry the
    // header on is shown by the SDK's failure lines in the next test).
    const events = await history(`message-${id}`);
    expect(headerTrace(events[0]?.workflowExecutionStartedEventAttributes?.header)).toBe(traceId);
    expect((await stack.temporal.workflow.getHandle(`message-${id}`).describe()).memo?.trace_id).toBe(traceId);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((e) => e.markerRecordedEventAttributes)).toHaveLength(2);

    // Worker: every activity line about this message carries it.
    const lines = workerLines(id);
    expect(lines.map((l) => l.event)).toContain('message_dispatched');
    expect(lines.every((l) => l.trace_id === traceId)).toBe(true);
    expect(lines.find((l) => l.event === 'message_dispatched')?.duration_ms).toEqual(expect.any(Number));

    // Provider: the simulator received it as X-Trace-Id.
    const requests = stack.twilio.requests.filter((r) => (r.form.StatusCallback ?? '').includes(id));
    expect(requests.map((r) => r.headers['x-trace-id'])).toEqual([traceId]);

    // API: each callback's webhook_received line is logged under the message's trace id.
    const hooks = stack.logs.filter((l) => l.event === 'webhook_received' && l.message_id === id);
    expect(hooks).toHaveLength(3);
    for (const h of hooks) {
      expect(h).toMatchObject({ name: 'api', channel_type: 'sms', trace_id: traceId });
      expect(typeof h.duration_ms).toBe('number');
      expect(h.request_trace_id).not.toBe(traceId);
    }
    expect(stack.logs.filter((l) => l.event === 'trace_id_mismatch')).toEqual([]);
  });

  it('binds the trace id to activities that never read the row: a permanent failure', async () => {
    const traceId = newTrace();
    const id = await send('+15005550001', traceId);
    await stack.waitForStatus(id, 'failed');
    const failed = await eventually(async () => workerLines(id).find((l) => l.event === 'message_failed'));
    // recordFailure logs message_id and the code only; trace_id comes from the activity's headers.
    expect(failed).toMatchObject({ trace_id: traceId, channel_type: 'sms', error_code: '21211' });
    // The SDK's own activity log (routed through pino) carries it too, from the interceptor's log attributes.
    const sdk = sdkLines.filter((l) => l.workflowId === `message-${id}` && l.activityType === 'sendMessage');
    expect(sdk.length).toBeGreaterThan(0);
    expect(sdk.every((l) => l.trace_id === traceId)).toBe(true);
  });

  it("carries the group's trace id to every child of a fan-out and to their activities", async () => {
    const traceId = newTrace();
    const res = await fetch(`${stack.apiUrl}/v1/group-messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', traceparent: traceparent(traceId) },
      body: JSON.stringify({
        channel_id: channelId,
        body: 'Sale starts now',
        mode: 'per_message',
        recipients: [{ to: '+15551230101' }, { to: '+15551230102' }],
      }),
    });
    expect(res.status).toBe(202);
    const group = (await res.json()) as { id: string; trace_id: string };
    expect(group.trace_id).toBe(traceId);
    await stack.temporal.workflow.getHandle(`group-${group.id}`).result();

    const parent = await history(`group-${group.id}`);
    expect(headerTrace(parent[0]?.workflowExecutionStartedEventAttributes?.header)).toBe(traceId);
    const children = parent.flatMap((e) =>
      e.startChildWorkflowExecutionInitiatedEventAttributes ? [e.startChildWorkflowExecutionInitiatedEventAttributes] : [],
    );
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(headerTrace(child.header)).toBe(traceId);
      const childId = child.workflowId ?? '';
      const messageId = childId.replace(/^message-/, '');
      await stack.waitForStatus(messageId, 'delivered');
      const events = await history(childId);
      expect(headerTrace(events[0]?.workflowExecutionStartedEventAttributes?.header)).toBe(traceId);
      expect(workerLines(messageId).find((l) => l.event === 'message_dispatched')?.trace_id).toBe(traceId);
    }
  });

  it('writes one event name per line, as JSON, in every process', () => {
    expect(stack.logs.length).toBeGreaterThan(20);
    const unnamed = stack.logs.filter((l) => typeof l.event !== 'string' || l.event === '');
    expect(unnamed).toEqual([]);
    expect(stack.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening'))?.event).toBe('library_log');
    expect(sdkLines.every((l) => typeof l.event === 'string')).toBe(true);
  });

  it("reads each channel type's message queue backlog from the Temporal server into turumba_dispatch_queue_depth", async () => {
    // A channel type's message queue no worker polls: the workflow's first task waits in the backlog.
    const probe = `probe${randomBytes(4).toString('hex')}`;
    const input: DispatchMessageInput = {
      messageId: '01930000-0000-7000-8000-000000000001',
      // A rate set on the channel: the limiter never asks the registry about the made-up channel type.
      channelId,
      channelType: probe as ChannelType,
      deliveryWaitSeconds: 1,
      onDeliveryTimeout: 'keep',
      retry: { maxAttempts: 1, initialIntervalMs: 100, maxIntervalMs: 100 },
    };
    const handle = await stack.temporal.workflow.start('dispatchMessage', {
      taskQueue: messageTaskQueue(input.channelType),
      workflowId: `queue-depth-${probe}`,
      args: [input],
    });
    const poller = pollQueueDepth({
      service: stack.temporal.workflowService,
      namespace: stack.config.temporalNamespace,
      queues: [
        { channelType: probe, taskQueue: messageTaskQueue(input.channelType) },
        { channelType: 'sms', taskQueue: messageTaskQueue('sms') },
      ],
      metrics: stack.workerMetrics,
      logger: createLogger({ name: 'poller', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      everyMs: 60_000,
    });
    try {
      const depth = await eventually(
        async () => {
          await poller.poll();
          const s = await scrapeWorker();
          return s.get(key('turumba_dispatch_queue_depth', { channel_type: probe })) === 1 ? s : undefined;
        },
        30_000,
        500,
      );
      expect(depth.get(key('turumba_dispatch_queue_depth', { channel_type: 'sms' }))).toBe(0);
    } finally {
      poller.stop();
      await handle.terminate('queue depth probe done');
    }
  });

  it('measures partitions ahead from the real partition bounds', async () => {
    const months = await partitionsAhead(stack.database.pool);
    // db:migrate creates the current month and 3 ahead.
    expect(months).toBeGreaterThanOrEqual(3);
    const poller = pollPartitionsAhead({
      pool: stack.database.pool,
      metrics: stack.workerMetrics,
      logger: createLogger({ name: 'p', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      everyMs: 60_000,
    });
    await poller.poll();
    poller.stop();
    expect((await scrapeWorker()).get(key('turumba_partitions_ahead_months', { table: 'messages' }))).toBe(months);
  });

  it("serves the Temporal SDK's runtime metrics merged into the worker's /metrics", async () => {
    const text = await (await fetch(workerMetricsUrl)).text();
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    expect(families).toContain('turumba_messages_dispatched_total');
    expect(families.some((f) => f?.startsWith('temporal_'))).toBe(true);
    expect(families).toEqual(expect.arrayContaining(['temporal_worker_task_slots_available']));
    // Two exporters in one body must not declare the same family twice.
    expect(new Set(families).size).toBe(families.length);
  });
});

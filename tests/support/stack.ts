import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { defaultRegistry } from '../../adapters';
import { EgressPolicy } from '../../adapters/egress';
import { buildApp } from '../../api/app';
import { loadConfig, type Config } from '../../config';
import { connect, type Database } from '../../db/client';
import { createAccount } from '../../db/accounts';
import { createApiKey } from '../../db/api-keys';
import { createLogger, type Logger } from '../../observability/logger';
import { createMetrics, type Metrics } from '../../observability/metrics';
import { startMetricsServer } from '../../observability/metrics-server';
import { installTemporalRuntime } from '../../observability/temporal-runtime';
import { startTwilioSimulator, type TwilioSimAccount, type TwilioSimulator } from '../../sandbox/twilio/server';
import { createWorkers } from '../../worker/workers';

export interface TestStack {
  config: Config;
  app: FastifyInstance;
  apiUrl: string;
  /** The API's /metrics, on its own port (API_METRICS_PORT in production). */
  apiMetricsUrl: string;
  database: Database;
  temporal: Client;
  twilio: TwilioSimulator;
  twilioAccount: TwilioSimAccount;
  /** Credentials of a channel on the stack's Twilio simulator account. */
  twilioCredentials: Record<string, string>;
  apiKey: string;
  accountId: string;
  logs: Array<Record<string, unknown>>;
  apiMetrics: Metrics;
  workerMetrics: Metrics;
  /** POST /v1/channels with any body; returns the created channel (201 expected). */
  createChannel(body: Record<string, unknown>, apiKey?: string): Promise<{ id: string; webhook_url: string; webhook_secret: string }>;
  /** POST /v1/messages over HTTP; returns status and JSON body. */
  sendMessage(body: Record<string, unknown>, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, string> }>;
  getMessage(id: string, apiKey?: string): Promise<{ status: number; body: MessageView }>;
  /** Polls GET /v1/messages/:id until it has `status`. */
  waitForStatus(id: string, status: string, timeoutMs?: number): Promise<MessageView>;
  /** POST /v1/channels for a sandbox Twilio channel; returns its id. */
  createSmsChannel(opts?: { apiKey?: string; credentials?: Record<string, string>; name?: string; rate_limit_per_second?: number }): Promise<string>;
  /** POST /v1/channels for an SMPP channel on a Jasmin simulator, as `user`. */
  createSmppChannel(
    jasminUrl: string,
    user: { username: string; password: string },
    name?: string,
  ): Promise<{ id: string; webhook_url: string; webhook_secret: string }>;
  newAccount(name?: string): Promise<{ accountId: string; apiKey: string }>;
  close(): Promise<void>;
}

export interface MessageView {
  id: string;
  status: string;
  provider_message_id: string | null;
  error: { code: string; message: string } | null;
  workflow_id: string;
  trace_id: string;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  [key: string]: unknown;
}

export interface StackInfra {
  databaseUrl: string;
  temporalAddress: string;
  workflowBundlePath: string;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Where the stack's Temporal and Postgres are; inside vitest, the run's global setup provides them. */
  infra?: StackInfra;
  logLevel?: string;
  /** false: run no worker in this process (the test starts worker processes itself). */
  inProcessWorker?: boolean;
  /** The worker's registry also collects Node's process metrics (event-loop lag, heap). */
  workerProcessMetrics?: boolean;
}

async function infraFromVitest(): Promise<StackInfra> {
  const { inject } = await import('vitest');
  return { databaseUrl: inject('databaseUrl'), temporalAddress: inject('temporalAddress'), workflowBundlePath: inject('workflowBundlePath') };
}

/**
 * The engine on real parts: the run's Temporal dev server and Postgres database,
 * the real workers and API (listening on a port, so provider callbacks arrive over HTTP),
 * and the Twilio simulator.
 */
export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const infra = opts.infra ?? (await infraFromVitest());
  const logger: Logger = createLogger({ name: 'test', level: opts.logLevel ?? 'info', destination: sink });
  installTemporalRuntime(logger);
  const twilioAccount: TwilioSimAccount = {
    sid: `AC${'1'.repeat(32)}`,
    apiKey: `SK${'2'.repeat(32)}`,
    apiSecret: 'sim-api-secret-value',
    authToken: 'sim-auth-token-value',
  };
  const twilio = await startTwilioSimulator({ accounts: [twilioAccount], callbackDelayMs: 20 });
  const twilioCredentials = {
    account_sid: twilioAccount.sid,
    api_key: twilioAccount.apiKey,
    api_secret: twilioAccount.apiSecret,
    auth_token: twilioAccount.authToken,
    from: '+15017122661',
    base_url: twilio.url,
  };
  const database = connect(infra.databaseUrl, { max: 10 });

  // The API must know its own public URL before it listens: pick the port first.
  const { freePort } = await import('../../cli/temporal-dev');
  const port = await freePort();
  const config = loadConfig({
    DATABASE_URL: infra.databaseUrl,
    TEMPORAL_ADDRESS: infra.temporalAddress,
    API_PORT: String(port),
    API_HOST: '127.0.0.1',
    SEND_INITIAL_INTERVAL_MS: '100',
    SEND_MAX_INTERVAL_MS: '2000',
    SEND_MAX_ATTEMPTS: '5',
    DELIVERY_WAIT_SECONDS: '60',
    // The simulators listen on 127.0.0.1; nothing else internal is reachable.
    EGRESS_ALLOW: '127.0.0.1',
    ALLOW_SANDBOX_CHANNELS: 'true',
    ...opts.env,
  });
  const adapters = defaultRegistry(new EgressPolicy(config.egressAllow));
  const apiMetrics = createMetrics({ defaults: false });
  const workerMetrics = createMetrics({ defaults: opts.workerProcessMetrics === true });

  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const nativeConnection = await NativeConnection.connect({ address: config.temporalAddress });
  const workers: Worker[] =
    opts.inProcessWorker === false
      ? []
      : await createWorkers({
          connection: nativeConnection,
          namespace: config.temporalNamespace,
          workflowBundlePath: infra.workflowBundlePath,
          db: database.db,
          adapters,
          logger: logger.child({ name: 'worker' }),
          metrics: workerMetrics,
          publicBaseUrl: config.publicBaseUrl,
          temporal,
          dispatch: config,
          sendsPerChannelType: config.sendsPerChannelType,
          retention: config.retention,
        });
  const running = workers.map((w) => w.run());

  const app = await buildApp({ config, database, temporal, adapters, logger: logger.child({ name: 'api' }), metrics: apiMetrics });
  await app.listen({ host: '127.0.0.1', port });
  const apiUrl = `http://127.0.0.1:${port}`;
  const metricsServer = await startMetricsServer({ registry: apiMetrics.registry, port: 0, host: '127.0.0.1', logger });

  const newAccount = async (name = 'test account') => {
    const account = await createAccount(database.db, name);
    const key = await createApiKey(database.db, account.id);
    return { accountId: account.id, apiKey: key.key };
  };
  const main = await newAccount();

  const createChannel = async (body: Record<string, unknown>, apiKey = main.apiKey) => {
    const res = await app.inject({ method: 'POST', url: '/v1/channels', headers: { authorization: `Bearer ${apiKey}` }, payload: body });
    if (res.statusCode !== 201) throw new Error(`channel create failed: ${res.statusCode} ${res.body}`);
    return res.json<{ id: string; webhook_url: string; webhook_secret: string }>();
  };
  const getMessage = async (id: string, apiKey = main.apiKey) => {
    const res = await fetch(`${apiUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${apiKey}` } });
    return { status: res.status, body: (await res.json()) as MessageView };
  };

  return {
    createChannel,
    getMessage,
    async sendMessage(body, headers = {}) {
      const res = await fetch(`${apiUrl}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${main.apiKey}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    },
    waitForStatus: (id, status, timeoutMs = 20_000) =>
      eventually(async () => {
        const m = await getMessage(id);
        return m.body.status === status ? m.body : undefined;
      }, timeoutMs),
    config,
    app,
    apiUrl,
    apiMetricsUrl: metricsServer.url,
    database,
    temporal,
    twilio,
    twilioAccount,
    twilioCredentials,
    apiKey: main.apiKey,
    accountId: main.accountId,
    logs,
    apiMetrics,
    workerMetrics,
    newAccount,
    async createSmsChannel(o = {}) {
      const channel = await createChannel(
        {
          channel_type: 'sms',
          provider: 'twilio',
          name: o.name ?? 'sandbox sms',
          credentials: o.credentials ?? twilioCredentials,
          ...(o.rate_limit_per_second === undefined ? {} : { rate_limit_per_second: o.rate_limit_per_second }),
        },
        o.apiKey,
      );
      return channel.id;
    },
    createSmppChannel: (jasminUrl, user, name = 'sandbox smpp') =>
      createChannel({
        channel_type: 'smpp',
        provider: 'jasmin',
        name,
        credentials: { base_url: jasminUrl, username: user.username, password: user.password, from: 'TURUMBA' },
      }),
    async close() {
      await app.close();
      metricsServer.close();
      for (const w of workers) w.shutdown();
      await Promise.allSettled(running);
      await nativeConnection.close();
      await connection.close();
      await twilio.close();
      await database.close();
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Deletes a schedule if there is one: files share the run's Temporal server, and a worker process of an earlier file may have made it. */
export const removeSchedule = (temporal: Client, scheduleId: string): Promise<void> =>
  temporal.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => undefined);

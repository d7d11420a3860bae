import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { defaultRegistry } from '../adapters';
import { EgressPolicy } from '../adapters/egress';
import { buildApp } from '../api/app';
import { ConfigError, loadConfig } from '../config';
import { connect } from '../db/client';
import { migrate } from '../db/migrate';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createAccount } from '../db/accounts';
import { createApiKey } from '../db/api-keys';
import { createChannel, getChannel, updateChannelCredentials } from '../db/channels';
import { CHANNEL_TYPES, type ChannelType } from '../lifecycle';
import { messageTaskQueue } from '../workflows/definitions';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { freeLocalPort, startMetricsServer } from '../observability/metrics-server';
import { pollQueueDepth } from '../observability/queue-depth';
import { installTemporalRuntime } from '../observability/temporal-runtime';
import { sendgridKeyPair } from '../sandbox/email/sendgrid';
import { startSmtpSink } from '../sandbox/email/server';
import { startGraphSimulator } from '../sandbox/graph/server';
import { startJasminSimulator } from '../sandbox/jasmin/server';
import { startTwilioSimulator, type TwilioSimAccount } from '../sandbox/twilio/server';
import { ensureOutboxSchedule } from '../worker/outbox-schedule';
import { ensurePartitionSchedule, ensureRecordExpirySchedule } from '../worker/schedules';
import { createWorkers, runWorkers } from '../worker/workers';
import { freePort, startTemporalDevServer, TEMPORAL_INSTALL_HINT, findTemporalCli } from './temporal-dev';

// `npm run dev`: the whole engine on embedded defaults, in one process. Temporal
// (start-dev, file-backed), PGlite when DATABASE_URL is unset, migrations, the
// Twilio simulator, the API and the worker; state lives under .dev/.

const DEV_DIR = resolve(process.env.DEV_DIR ?? '.dev');
const SANDBOX_TWILIO: TwilioSimAccount = {
  sid: 'AC00000000000000000000000000000dee',
  apiKey: 'SK00000000000000000000000000000dee',
  apiSecret: 'dev-sandbox-api-secret',
  authToken: 'dev-sandbox-auth-token',
};

const SANDBOX_META = { accessToken: 'dev-graph-token', appSecret: 'dev-graph-app-secret', phoneNumberId: '100000000000001', pageId: '200000000000002' };
const SANDBOX_SMTP = { user: 'dev', password: 'dev-smtp-password' };
const SANDBOX_JASMIN = { username: 'dev', password: 'dev-jasmin-pw' };

interface StackFile {
  api_url: string;
  api_key: string;
  account_id: string;
  channels: Record<string, string>;
  temporal_address: string;
  temporal_ui_url: string | null;
  /** The API's and the worker's Prometheus endpoints (each on its own port, as in production). */
  api_metrics_url: string;
  worker_metrics_url: string;
  sandbox_url: string;
  sandbox: Record<string, string>;
  database_url: string;
}

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => void freePort().then(res));
    s.listen(preferred, '127.0.0.1', () => s.close(() => res(preferred)));
  });
}

async function main(): Promise<void> {
  mkdirSync(DEV_DIR, { recursive: true });
  const log = createLogger({ name: 'dev', level: process.env.LOG_LEVEL ?? 'info' });
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };

  try {
    const apiPort = Number(process.env.API_PORT ?? (await portOr(3000)));
    // The simulators listen on 127.0.0.1; tenants of the dev stack may create sandbox channels on them.
    const env: Record<string, string | undefined> = {
      EGRESS_ALLOW: '127.0.0.1',
      ALLOW_SANDBOX_CHANNELS: 'true',
      ...process.env,
      API_PORT: String(apiPort),
      API_HOST: process.env.API_HOST ?? '127.0.0.1',
    };

    // Temporal: an external one when TEMPORAL_ADDRESS is set, else start-dev with its data in .dev/.
    let temporalUi: string | null = null;
    if (!env.TEMPORAL_ADDRESS) {
      if (!findTemporalCli(env.TEMPORAL_CLI_PATH)) throw new Error(TEMPORAL_INSTALL_HINT);
      const server = await startTemporalDevServer({
        cliPath: env.TEMPORAL_CLI_PATH,
        port: await portOr(7233),
        uiPort: await portOr(8233),
        dbFile: join(DEV_DIR, 'temporal.db'),
        logFile: join(DEV_DIR, 'temporal.log'),
      });
      cleanups.push(() => server.stop());
      env.TEMPORAL_ADDRESS = server.address;
      temporalUi = server.uiUrl ?? null;
      // The API's links.temporal_ui point at this UI unless the environment names another.
      if (temporalUi) env.TEMPORAL_UI_URL ??= temporalUi;
      log.info({ event: 'temporal_started', address: server.address, ui: temporalUi });
    }

    // PostgreSQL: DATABASE_URL, else PGlite (embedded, file-backed) behind a wire-protocol socket.
    const embeddedDb = !env.DATABASE_URL;
    if (embeddedDb) {
      const { PGlite } = await import('@electric-sql/pglite');
      const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
      const pg = await PGlite.create(join(DEV_DIR, 'pglite'));
      const pgPort = await portOr(5433);
      const socket = new PGLiteSocketServer({ db: pg, host: '127.0.0.1', port: pgPort, maxConnections: 100 });
      await socket.start();
      cleanups.push(async () => {
        await socket.stop();
        await pg.close();
      });
      env.DATABASE_URL = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
      log.info({ event: 'pglite_started', port: pgPort, dir: join(DEV_DIR, 'pglite') });
    }

    // The dev stack keeps its own credentials key under .dev/ unless one is given.
    if (!env.CREDENTIALS_KEY) {
      const keyFile = join(DEV_DIR, 'credentials.key');
      if (!existsSync(keyFile)) writeFileSync(keyFile, Keyring.generateKey(), { mode: 0o600 });
      env.CREDENTIALS_KEY = readFileSync(keyFile, 'utf8').trim();
    }
    const config = loadConfig(env);
    useKeyring(Keyring.fromBase64(config.credentialsKey ?? '', config.credentialsKeyPrevious));
    const databaseUrl = config.databaseUrl ?? '';
    const temporalAddress = config.temporalAddress ?? '';
    const migrated = await migrate(databaseUrl);
    log.info({ event: 'db_migrated', applied: migrated.applied, partitions_created: migrated.partitionsCreated });

    const sandbox = await startTwilioSimulator({ port: await portOr(4010), host: '127.0.0.1', accounts: [SANDBOX_TWILIO] });
    cleanups.push(() => sandbox.close());
    const graph = await startGraphSimulator({ port: await portOr(4011), host: '127.0.0.1', apps: [SANDBOX_META] });
    cleanups.push(() => graph.close());
    const jasmin = await startJasminSimulator({ port: await portOr(4012), host: '127.0.0.1', users: [SANDBOX_JASMIN], dlrRetryDelayMs: 2_000 });
    cleanups.push(() => jasmin.close());
    const smtp = await startSmtpSink({ port: await portOr(2525), host: '127.0.0.1', users: { [SANDBOX_SMTP.user]: SANDBOX_SMTP.password } });
    cleanups.push(() => smtp.close());
    const sendgrid = sendgridKeyPair();

    // The worker serves the SDK's own metrics (temporal_*) beside ours, as in production.
    const sdkMetricsAddress = `127.0.0.1:${await freeLocalPort()}`;
    installTemporalRuntime(log, { prometheusBindAddress: sdkMetricsAddress });
    // PGlite runs every connection in one session: no named statements there.
    const database = connect(databaseUrl, { max: 10, namedStatements: !embeddedDb });
    cleanups.push(() => database.close());
    const adapters = defaultRegistry(new EgressPolicy(config.egressAllow));
    // One process holds both registries: the process metrics are the API's, as they would be twice.
    const workerMetrics = createMetrics({ defaults: false });

    const connection = await Connection.connect({ address: temporalAddress });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.temporalNamespace });
    await ensureOutboxSchedule(temporal);
    await ensurePartitionSchedule(temporal);
    await ensureRecordExpirySchedule(temporal);
    const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    cleanups.push(() => nativeConnection.close());
    const workers = await createWorkers({
      partitions: { retentionMonths: config.partitionRetentionMonths, archiveDir: config.archiveDir },
      retention: config.retention,
      connection: nativeConnection,
      namespace: config.temporalNamespace,
      db: database.db,
      adapters,
      logger: log.child({ name: 'worker' }),
      metrics: workerMetrics,
      publicBaseUrl: config.publicBaseUrl,
      temporal,
      dispatch: config,
    });
    const running = runWorkers(workers);
    cleanups.push(async () => {
      for (const w of workers) w.shutdown();
      await running;
    });
    const workerMetricsServer = await startMetricsServer({
      registry: workerMetrics.registry,
      port: Number(env.WORKER_METRICS_PORT ?? (await portOr(config.workerMetricsPort))),
      host: '127.0.0.1',
      sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      logger: log,
    });
    cleanups.push(async () => void workerMetricsServer.close());
    const queueDepth = pollQueueDepth({
      service: temporal.workflowService,
      namespace: config.temporalNamespace,
      queues: CHANNEL_TYPES.map((t) => ({ channelType: t, taskQueue: messageTaskQueue(t) })),
      metrics: workerMetrics,
      logger: log,
    });
    cleanups.push(async () => queueDepth.stop());

    const apiMetrics = createMetrics();
    const app = await buildApp({ config, database, temporal, adapters, logger: log.child({ name: 'api' }), metrics: apiMetrics });
    await app.listen({ host: config.apiHost, port: config.apiPort });
    cleanups.push(() => app.close());
    const apiMetricsServer = await startMetricsServer({
      registry: apiMetrics.registry,
      port: Number(env.API_METRICS_PORT ?? (await portOr(config.apiMetricsPort))),
      host: config.apiMetricsHost,
      logger: log,
    });
    cleanups.push(async () => void apiMetricsServer.close());
    const apiUrl = `http://127.0.0.1:${config.apiPort}`;

    // Credentials are rewritten on every start: simulator ports and the SendGrid key are per run.
    const seeded = await seed(database, {
      sms: {
        account_sid: SANDBOX_TWILIO.sid,
        api_key: SANDBOX_TWILIO.apiKey,
        api_secret: SANDBOX_TWILIO.apiSecret,
        auth_token: SANDBOX_TWILIO.authToken,
        from: '+15005550006',
        base_url: sandbox.url,
      },
      whatsapp: {
        access_token: SANDBOX_META.accessToken,
        phone_number_id: SANDBOX_META.phoneNumberId,
        app_secret: SANDBOX_META.appSecret,
        base_url: graph.url,
      },
      messenger: { page_access_token: SANDBOX_META.accessToken, app_secret: SANDBOX_META.appSecret, page_id: SANDBOX_META.pageId, base_url: graph.url },
      email: {
        host: smtp.host,
        port: String(smtp.port),
        username: SANDBOX_SMTP.user,
        password: SANDBOX_SMTP.password,
        from_address: 'dispatch@sandbox.turumba.test',
        from_name: 'Turumba sandbox',
        tls_reject_unauthorized: 'false',
        events_provider: 'sendgrid',
        sendgrid_verification_key: sendgrid.verificationKey,
      },
      smpp: { base_url: jasmin.url, username: SANDBOX_JASMIN.username, password: SANDBOX_JASMIN.password, from: 'TURUMBA' },
    });
    const hook = (type: ChannelType) => `${config.publicBaseUrl}/webhooks/${type}/${seeded.channels[type]}`;
    graph.setWebhook('whatsapp', SANDBOX_META.phoneNumberId, hook('whatsapp'));
    graph.setWebhook('messenger', SANDBOX_META.pageId, hook('messenger'));
    smtp.setEvents({ provider: 'sendgrid', webhookUrl: hook('email'), privateKey: sendgrid.privateKey });
    const stack: StackFile = {
      api_url: apiUrl,
      api_key: seeded.apiKey,
      account_id: seeded.accountId,
      channels: seeded.channels,
      temporal_address: temporalAddress,
      temporal_ui_url: temporalUi,
      api_metrics_url: apiMetricsServer.url,
      worker_metrics_url: workerMetricsServer.url,
      sandbox_url: sandbox.url,
      sandbox: { twilio: sandbox.url, graph: graph.url, jasmin: jasmin.url, smtp: `smtp://${smtp.host}:${smtp.port}` },
      database_url: databaseUrl,
    };
    writeFileSync(join(DEV_DIR, 'stack.json'), `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });

    process.stdout.write(
      [
        '',
        'Turumba Dispatch is running.',
        `  API            ${apiUrl}`,
        `  Temporal UI    ${temporalUi ?? '(external Temporal)'}`,
        `  Temporal       ${temporalAddress}`,
        `  Metrics        API ${apiMetricsServer.url} · worker ${workerMetricsServer.url}`,
        `  Sandboxes      Twilio ${sandbox.url} · Graph ${graph.url} · Jasmin ${jasmin.url} · SMTP ${smtp.host}:${smtp.port}`,
        `  Channels       ${Object.entries(seeded.channels)
          .map(([t, id]) => `${t}=${id}`)
          .join('  ')}`,
        `  Stack file     ${join(DEV_DIR, 'stack.json')}`,
        '',
        'Send a message:',
        `  curl -s -X POST ${apiUrl}/v1/messages \\`,
        `    -H 'Authorization: Bearer ${seeded.apiKey}' -H 'Content-Type: application/json' \\`,
        `    -d '{"channel_id":"${seeded.channels.sms}","to":"+15551234567","body":"Hello from Turumba"}'`,
        '',
        'Then: curl -s -H "Authorization: Bearer <key>" ' + `${apiUrl}/v1/messages/<id>`,
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );

    await new Promise<void>((res) => {
      process.once('SIGINT', () => res());
      process.once('SIGTERM', () => res());
    });
    log.info({ event: 'dev_stopping' });
    await stopAll();
    process.exit(0);
  } catch (err) {
    await stopAll();
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`dev stack failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

/** A dev account, its key and one sandbox channel per channel type; reused across restarts. */
async function seed(database: ReturnType<typeof connect>, credentials: Record<ChannelType, Record<string, string>>) {
  const file = join(DEV_DIR, 'stack.json');
  const prev = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<StackFile>) : {};
  let accountId = prev.account_id;
  let apiKey = prev.api_key;
  const accountOk = accountId && apiKey && prev.channels?.sms && (await getChannel(database.db, prev.channels.sms, accountId));
  if (!accountOk || !accountId || !apiKey) {
    accountId = (await createAccount(database.db, 'dev')).id;
    apiKey = (await createApiKey(database.db, accountId, 'dev')).key;
  }
  const channels: Record<string, string> = {};
  for (const type of Object.keys(credentials) as ChannelType[]) {
    const known = accountOk ? prev.channels?.[type] : undefined;
    const existing = known ? await getChannel(database.db, known, accountId) : undefined;
    if (existing) {
      await updateChannelCredentials(database.db, existing.id, credentials[type]);
      channels[type] = existing.id;
    } else {
      const created = await createChannel(database.db, {
        accountId,
        channelType: type,
        provider: type === 'sms' ? 'twilio' : type === 'smpp' ? 'jasmin' : 'default',
        name: `sandbox ${type}`,
        credentials: credentials[type],
      });
      channels[type] = created.id;
    }
  }
  return { apiKey, accountId, channels: channels as Record<ChannelType, string> };
}

void main();

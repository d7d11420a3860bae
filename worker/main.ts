import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { defaultRegistry } from '../adapters';
import { EgressPolicy } from '../adapters/egress';
import { CHANNEL_TYPES } from '../lifecycle';
import { loadConfigOrExit, requireKeys } from '../config';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { freeLocalPort, startMetricsServer } from '../observability/metrics-server';
import { pollPartitionsAhead } from '../observability/partitions-ahead';
import { pollQueueDepth } from '../observability/queue-depth';
import { installTemporalRuntime } from '../observability/temporal-runtime';
import { ensureOutboxSchedule } from './outbox-schedule';
import { ensurePartitionSchedule, ensureRecordExpirySchedule, keepSchedules } from './schedules';
import { messageTaskQueue } from '../workflows/definitions';
import { createWorkers, defaultBundlePath, runWorkers } from './workers';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  requireKeys(config, [
    ['databaseUrl', 'DATABASE_URL'],
    ['temporalAddress', 'TEMPORAL_ADDRESS'],
    ['credentialsKey', 'CREDENTIALS_KEY'],
  ]);
  useKeyring(Keyring.fromBase64(config.credentialsKey ?? '', config.credentialsKeyPrevious));
  const logger = createLogger({ name: 'worker', level: config.logLevel, pretty: config.logPretty });
  const metrics = createMetrics();
  // The SDK exporter listens on loopback only; the worker's /metrics serves its output merged.
  // Its port is probed free, so it must not be the one /metrics is about to take.
  let sdkMetricsPort = await freeLocalPort();
  while (sdkMetricsPort === config.workerMetricsPort) sdkMetricsPort = await freeLocalPort();
  const sdkMetricsAddress = `127.0.0.1:${sdkMetricsPort}`;
  installTemporalRuntime(logger, { prometheusBindAddress: sdkMetricsAddress });
  const database = connect(config.databaseUrl ?? '');
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const clientConnection = await Connection.connect(temporalConnectionOptions(config));
  const temporal = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  const schedules = keepSchedules(async () => {
    await ensureOutboxSchedule(temporal);
    await ensurePartitionSchedule(temporal);
    await ensureRecordExpirySchedule(temporal);
  }, logger);
  await schedules.firstAttempt;
  const adapters = defaultRegistry(new EgressPolicy(config.egressAllow));
  const workers = await createWorkers({
    partitions: { retentionMonths: config.partitionRetentionMonths, archiveDir: config.archiveDir },
    retention: config.retention,
    connection,
    namespace: config.temporalNamespace,
    workflowBundlePath: config.workflowBundlePath ?? defaultBundlePath(),
    db: database.db,
    adapters,
    logger,
    metrics,
    publicBaseUrl: config.publicBaseUrl,
    temporal,
    dispatch: config,
    sendsPerChannelType: config.sendsPerChannelType,
  });

  const metricsServer = await startMetricsServer({
    registry: metrics.registry,
    port: config.workerMetricsPort,
    sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
    logger,
  });
  const queueDepth = pollQueueDepth({
    service: temporal.workflowService,
    namespace: config.temporalNamespace,
    queues: CHANNEL_TYPES.filter((t) => adapters.list().some((a) => a.channelType === t)).map((t) => ({ channelType: t, taskQueue: messageTaskQueue(t) })),
    metrics,
    logger,
  });
  const partitions = pollPartitionsAhead({ pool: database.pool, metrics, logger });

  const stop = (signal: string) => {
    logger.info({ event: 'worker_stopping', signal });
    for (const w of workers) w.shutdown();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info({ event: 'worker_started', task_queues: workers.map((w) => w.options.taskQueue), metrics_port: config.workerMetricsPort });
  await runWorkers(workers);
  schedules.stop();
  queueDepth.stop();
  partitions.stop();
  metricsServer.close();
  await connection.close();
  await clientConnection.close();
  await database.close();
  logger.info({ event: 'worker_stopped' });
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

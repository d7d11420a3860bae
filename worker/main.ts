import { createServer } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { defaultRegistry } from '../adapters';
import { loadConfigOrExit, requireKeys } from '../config';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { installTemporalRuntime } from '../observability/temporal-runtime';
import { ensureOutboxSchedule } from './outbox-schedule';
import { createWorkers, defaultBundlePath, runWorkers } from './workers';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  requireKeys(config, [
    ['databaseUrl', 'DATABASE_URL'],
    ['temporalAddress', 'TEMPORAL_ADDRESS'],
    ['credentialsKey', 'CREDENTIALS_KEY'],
  ]);
  useKeyring(Keyring.fromBase64(config.credentialsKey ?? '', config.credentialsKeyPrevious));
  const logger = createLogger({ name: 'worker', level: config.logLevel });
  const metrics = createMetrics();
  installTemporalRuntime(logger);
  const database = connect(config.databaseUrl ?? '');
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const clientConnection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  await ensureOutboxSchedule(temporal);
  const workers = await createWorkers({
    connection,
    namespace: config.temporalNamespace,
    workflowBundlePath: config.workflowBundlePath ?? defaultBundlePath(),
    db: database.db,
    adapters: defaultRegistry(),
    logger,
    metrics,
    publicBaseUrl: config.publicBaseUrl,
    temporal,
    dispatch: config,
  });

  const metricsServer = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void metrics.registry.metrics().then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body));
  });
  metricsServer.listen(config.workerMetricsPort, '0.0.0.0');

  const stop = (signal: string) => {
    logger.info({ event: 'worker_stopping', signal });
    for (const w of workers) w.shutdown();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info({ event: 'worker_started', task_queues: workers.map((w) => w.options.taskQueue), metrics_port: config.workerMetricsPort });
  await runWorkers(workers);
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

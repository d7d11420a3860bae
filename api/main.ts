import { Client, Connection } from '@temporalio/client';
import { defaultRegistry } from '../adapters';
import { EgressPolicy } from '../adapters/egress';
import { loadConfigOrExit, requireKeys } from '../config';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { connect } from '../db/client';
import { Keyring, useKeyring } from '../db/credentials-crypto';
import { createLogger } from '../observability/logger';
import { createMetrics } from '../observability/metrics';
import { startMetricsServer } from '../observability/metrics-server';
import { buildApp } from './app';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  requireKeys(config, [
    ['databaseUrl', 'DATABASE_URL'],
    ['temporalAddress', 'TEMPORAL_ADDRESS'],
    ['credentialsKey', 'CREDENTIALS_KEY'],
  ]);
  useKeyring(Keyring.fromBase64(config.credentialsKey ?? '', config.credentialsKeyPrevious));
  const logger = createLogger({ name: 'api', level: config.logLevel, pretty: config.logPretty });
  const database = connect(config.databaseUrl ?? '');
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const metrics = createMetrics();
  const app = await buildApp({ config, database, temporal, adapters: defaultRegistry(new EgressPolicy(config.egressAllow)), logger, metrics });
  await app.listen({ host: config.apiHost, port: config.apiPort });
  // Off the public port: only what can reach API_METRICS_HOST (Prometheus) reads the metrics.
  const metricsServer = await startMetricsServer({ registry: metrics.registry, port: config.apiMetricsPort, host: config.apiMetricsHost, logger });
  logger.info({ event: 'api_started', port: config.apiPort, metrics_port: config.apiMetricsPort, public_base_url: config.publicBaseUrl });

  const stop = async (signal: string) => {
    logger.info({ event: 'api_stopping', signal });
    await app.close();
    metricsServer.close();
    await connection.close();
    await database.close();
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

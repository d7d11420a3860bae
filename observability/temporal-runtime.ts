import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export interface TemporalRuntimeOptions {
  level?: LogLevel;
  /**
   * Where the SDK's own Prometheus exporter listens (`host:port`): worker task slots, poll
   * and schedule-to-start latencies, sticky cache, request failures (all `temporal_*`).
   * The worker serves them merged into its /metrics (observability/metrics-server.ts).
   */
  prometheusBindAddress?: string;
}

let installed = false;

/**
 * Routes the Temporal SDK's own logs (worker state, workflow/activity logs) through
 * pino, and optionally exports its metrics. The runtime can be installed once per
 * process, before the first connection; later calls are no-ops and return false.
 */
export function installTemporalRuntime(logger: Logger, opts: LogLevel | TemporalRuntimeOptions = 'WARN'): boolean {
  if (installed) return false;
  installed = true;
  const { level = 'WARN', prometheusBindAddress } = typeof opts === 'string' ? { level: opts } : opts;
  const sdk = logger.child({ component: 'temporal-sdk' });
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => {
        sdk[TO_PINO[entry.level]]({ event: 'temporal_sdk', ...entry.meta }, entry.message);
      }),
      ...(prometheusBindAddress
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: prometheusBindAddress, useSecondsForDurations: true, countersTotalSuffix: true } } } }
        : {}),
    });
    return true;
  } catch {
    // Already installed in this process (e.g. a test runner reusing it): keep that one.
    return false;
  }
}

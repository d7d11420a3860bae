import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Routes the Temporal SDK's own logs (worker state, workflow/activity logs) through
 * pino. The runtime can be installed once per process; later calls are no-ops.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => {
        sdk[TO_PINO[entry.level]]({ event: 'temporal_sdk', ...entry.meta }, entry.message);
      }),
    });
  } catch {
    // Already installed in this process (e.g. a test runner reusing it): keep that one.
  }
}

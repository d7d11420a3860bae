import { Context } from '@temporalio/activity';
import { DEFAULT_RETENTION, type RetentionSettings } from '../config';
import { poolOf, type Db } from '../db/client';
import { deleteExpired } from '../db/expiry';
import type { Logger } from '../observability/logger';
import type { ExpiringTableName } from '../workflows/definitions';

export interface ExpiredRows {
  table: ExpiringTableName;
  /** Rows older than this went (ISO 8601). */
  cutoff: string;
  deleted: number;
}

/** What the record-expiry workflow (workflows/record-expiry.ts) runs. */
export interface RecordExpiryActivities {
  expireRecords(table: ExpiringTableName, asOf: string): Promise<ExpiredRows>;
}

export interface ExpiryActivityDeps {
  db: Db;
  logger: Logger;
  /** Days kept per table (RETENTION_DAYS_*). */
  retention?: RetentionSettings;
  batchSize?: number;
}

const DAY_MS = 86_400_000;

export function createExpiryActivities(deps: ExpiryActivityDeps): RecordExpiryActivities {
  const pool = poolOf(deps.db);
  const retention = deps.retention ?? DEFAULT_RETENTION;
  const days: Record<ExpiringTableName, number> = {
    idempotency_keys: retention.idempotencyKeysDays,
    pending_status_updates: retention.pendingStatusUpdatesDays,
    inbound_dedup: retention.inboundDedupDays,
  };
  const log = deps.logger.child({ component: 'record_expiry' });
  return {
    async expireRecords(table, asOf) {
      const cutoff = new Date(new Date(asOf).getTime() - days[table] * DAY_MS);
      const deleted = await deleteExpired(pool, table, cutoff, { batchSize: deps.batchSize, onBatch: (n) => Context.current().heartbeat(n) });
      log.info({ event: 'records_expired', table, cutoff: cutoff.toISOString(), deleted });
      return { table, cutoff: cutoff.toISOString(), deleted };
    },
  };
}

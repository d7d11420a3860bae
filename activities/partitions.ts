import { Context } from '@temporalio/activity';
import { poolOf, type Db } from '../db/client';
import { archivePartition, ensurePartitions, planRetirement, retirePartition, type StepOptions } from '../db/archive/lifecycle';
import { DirectoryArchiveStore, type ArchiveStore } from '../db/archive/store';
import type { Logger } from '../observability/logger';

export interface EnsuredPartitions {
  created: string[];
  covered: string[];
  missing: string[];
}

export interface RetirementPlanItem {
  partition: string;
  state: 'attached' | 'detach_pending' | 'detached';
  from: string;
  to: string;
  expired: boolean;
  archived: boolean;
}

export interface RetirementPlan {
  /** False when no archive store is configured: expired months are then kept, never dropped. */
  archivalEnabled: boolean;
  cutoff: string;
  items: RetirementPlanItem[];
}

export interface ArchiveStepResult {
  exported: boolean;
  rows: number;
}

export type RetireStepResult = { outcome: 'dropped'; rows: number; reexported?: string } | { outcome: 'absent' } | { outcome: 'finalized' };

/** What the partition-maintenance workflow (workflows/partition-maintenance.ts) runs. */
export interface PartitionActivities {
  ensureMessagePartitions(asOf: string): Promise<EnsuredPartitions>;
  planPartitionRetirement(asOf: string): Promise<RetirementPlan>;
  archiveMessagePartition(partition: string): Promise<ArchiveStepResult>;
  retireMessagePartition(partition: string, finalizeOnly: boolean): Promise<RetireStepResult>;
}

export const DEFAULT_RETENTION_MONTHS = 12;
export const DEFAULT_MONTHS_AHEAD = 3;

export interface PartitionActivityOptions {
  /** Whole months kept before the current one (PARTITION_RETENTION_MONTHS). */
  retentionMonths?: number;
  /** Months created ahead of the current one. */
  monthsAhead?: number;
  /** ARCHIVE_DIR. Without it (or archiveStore) expired months are kept: nothing is dropped without an archive. */
  archiveDir?: string;
  /** Any other store (e.g. S3-compatible); wins over archiveDir. */
  archiveStore?: ArchiveStore;
  /** Runs once a month's archive is verified and its manifest written, before the detach (fault injection in tests). */
  afterArchive?: (partition: string) => void | Promise<void>;
}

export interface PartitionActivityDeps extends PartitionActivityOptions {
  db: Db;
  logger: Logger;
}

export function createPartitionActivities(deps: PartitionActivityDeps): PartitionActivities {
  const pool = poolOf(deps.db);
  const retentionMonths = deps.retentionMonths ?? DEFAULT_RETENTION_MONTHS;
  const monthsAhead = deps.monthsAhead ?? DEFAULT_MONTHS_AHEAD;
  if (!Number.isInteger(retentionMonths) || retentionMonths < 1) throw new Error(`retentionMonths must be an integer >= 1 (got ${retentionMonths})`);
  if (!Number.isInteger(monthsAhead) || monthsAhead < 1) throw new Error(`monthsAhead must be an integer >= 1 (got ${monthsAhead})`);
  const store = deps.archiveStore ?? (deps.archiveDir ? new DirectoryArchiveStore(deps.archiveDir) : undefined);
  const log = deps.logger.child({ component: 'partitions' });

  const requireStore = (): ArchiveStore => {
    if (!store) throw new Error('no archive store configured (ARCHIVE_DIR)');
    return store;
  };

  return {
    async ensureMessagePartitions(asOf) {
      const r = await ensurePartitions(pool, new Date(asOf), monthsAhead);
      const event = r.missing.length > 0 ? 'partitions_missing' : 'partitions_ensured';
      log[r.missing.length > 0 ? 'error' : 'info']({ event, as_of: asOf, created: r.created, missing: r.missing, months_ahead: monthsAhead });
      return r;
    },

    async planPartitionRetirement(asOf) {
      const plan = await planRetirement(pool, store ?? NO_STORE, new Date(asOf), retentionMonths);
      log.info({
        event: 'partition_retirement_planned',
        as_of: asOf,
        cutoff: plan.cutoff,
        retention_months: retentionMonths,
        partitions: plan.items.map((i) => i.partition),
        archival: store !== undefined,
      });
      return { archivalEnabled: store !== undefined, ...plan };
    },

    async archiveMessagePartition(partition) {
      const started = Date.now();
      const r = await withHeartbeat((opts) => archivePartition(pool, requireStore(), partition, opts));
      const rows = r.manifest?.rows ?? 0;
      if (r.exported) {
        log.info({
          event: 'partition_archived',
          partition,
          rows,
          bytes: r.manifest?.bytes,
          sha256: r.manifest?.sha256,
          location: requireStore().location,
          duration_ms: Date.now() - started,
        });
      }
      await deps.afterArchive?.(partition);
      return { exported: r.exported, rows };
    },

    async retireMessagePartition(partition, finalizeOnly) {
      const started = Date.now();
      const r = await withHeartbeat((opts) => retirePartition(pool, finalizeOnly ? (store ?? NO_STORE) : requireStore(), partition, { ...opts, finalizeOnly }));
      if (r.outcome === 'dropped' && r.reexported) log.warn({ event: 'partition_reexported', partition, reason: r.reexported });
      log.info({ event: `partition_${r.outcome}`, partition, ...(r.outcome === 'dropped' ? { rows: r.rows } : {}), duration_ms: Date.now() - started });
      return r;
    },
  };
}

/**
 * Heartbeats with the latest progress on every step and every 10 s between
 * them (a digest query or a detach waiting on old transactions reports nothing
 * for a while); hands the activity's cancellation to the database work.
 */
async function withHeartbeat<T>(fn: (opts: StepOptions) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let last: unknown = { phase: 'start' };
  const timer = setInterval(() => ctx.heartbeat(last), 10_000);
  try {
    return await fn({
      signal: ctx.cancellationSignal,
      onProgress: (p) => {
        last = p;
        ctx.heartbeat(p);
      },
    });
  } finally {
    clearInterval(timer);
  }
}

/** Planning and finishing a pending detach need no archive; reading a manifest from here finds none. */
const NO_STORE: ArchiveStore = {
  location: '(none)',
  createWriter: () => Promise.reject(new Error('no archive store configured')),
  openRead: () => {
    throw new Error('no archive store configured');
  },
  size: async () => undefined,
  readText: async () => undefined,
  writeText: () => Promise.reject(new Error('no archive store configured')),
  rename: () => Promise.reject(new Error('no archive store configured')),
};

import { ApplicationFailure, log, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { PartitionActivities } from '../activities/partitions';

// Daily upkeep of the monthly `messages` partitions, started by the Temporal
// schedule `partition-maintenance` (worker/schedules.ts). Every step is
// idempotent and reads its state from the catalog and the archive manifests, so
// a failed run is simply finished by the next one.

export const PARTITION_MAINTENANCE_WORKFLOW = 'partitionMaintenance';
export const PARTITION_SCHEDULE_ID = 'partition-maintenance';

export interface PartitionMaintenanceInput {
  /** The day to act as of (ISO 8601). Default: the run's own start time, i.e. the schedule's fire time. */
  asOf?: string;
}

export interface PartitionMaintenanceResult {
  asOf: string;
  cutoff: string;
  created: string[];
  exported: string[];
  dropped: Array<{ partition: string; rows: number; reexported?: string }>;
  finalized: string[];
  /** Expired months left in place because archival is not configured. */
  keptUnarchived: string[];
}

const catalog = proxyActivities<Pick<PartitionActivities, 'ensureMessagePartitions' | 'planPartitionRetirement'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: ['DefaultPartitionError'] },
});

// Exporting a 30 M-row month takes a while; the heartbeat (with progress) is what tells a stuck export from a long one.
const archival = proxyActivities<Pick<PartitionActivities, 'archiveMessagePartition' | 'retireMessagePartition'>>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 minute', backoffCoefficient: 2, maximumInterval: '30 minutes', maximumAttempts: 5 },
});

export async function partitionMaintenance(input: PartitionMaintenanceInput = {}): Promise<PartitionMaintenanceResult> {
  const asOf = input.asOf ?? new Date().toISOString();
  setCurrentDetails(`ensuring partitions as of ${asOf}`);
  const ensured = await catalog.ensureMessagePartitions(asOf);
  if (ensured.missing.length > 0) {
    // Inserts into those months would fail: fail loudly so the run shows up as Failed and alerts.
    throw ApplicationFailure.nonRetryable(`months without a partition: ${ensured.missing.join(', ')}`, 'PartitionsMissing');
  }

  const plan = await catalog.planPartitionRetirement(asOf);
  const result: PartitionMaintenanceResult = {
    asOf,
    cutoff: plan.cutoff,
    created: ensured.created,
    exported: [],
    dropped: [],
    finalized: [],
    keptUnarchived: [],
  };
  for (const [i, item] of plan.items.entries()) {
    const step = `${item.partition} (${i + 1}/${plan.items.length})`;
    if (!item.expired) {
      setCurrentDetails(`finishing the pending detach of ${step}`);
      await archival.retireMessagePartition(item.partition, true);
      result.finalized.push(item.partition);
      continue;
    }
    if (!plan.archivalEnabled) {
      result.keptUnarchived.push(item.partition);
      continue;
    }
    setCurrentDetails(`archiving ${step}`);
    const archived = await archival.archiveMessagePartition(item.partition);
    if (archived.exported) result.exported.push(item.partition);
    setCurrentDetails(`detaching and dropping ${step}`);
    const retired = await archival.retireMessagePartition(item.partition, false);
    if (retired.outcome === 'dropped') result.dropped.push({ partition: item.partition, rows: retired.rows, reexported: retired.reexported });
  }
  if (result.keptUnarchived.length > 0) {
    log.warn('expired partitions kept: no archive store configured', { partitions: result.keptUnarchived });
  }
  setCurrentDetails(
    `as of ${asOf}: created ${result.created.length}, dropped ${result.dropped.length}, kept ${result.keptUnarchived.length} (retention cutoff ${plan.cutoff})`,
  );
  return result;
}

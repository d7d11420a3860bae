import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { ExpiredRows, RecordExpiryActivities } from '../activities/expiry';
import { EXPIRING_TABLE_NAMES } from './definitions';

// Daily expiry of bookkeeping rows (idempotency keys, early receipts, inbound dedup ids),
// started by the Temporal schedule `record-expiry` (worker/schedules.ts). Each table is one
// activity that deletes in bounded batches; a failed run is finished by the next one.

export const RECORD_EXPIRY_WORKFLOW = 'recordExpiry';
export const RECORD_EXPIRY_SCHEDULE_ID = 'record-expiry';

export interface RecordExpiryInput {
  /** The moment retention counts back from (ISO 8601). Default: the run's start. */
  asOf?: string;
}

const { expireRecords } = proxyActivities<RecordExpiryActivities>({
  startToCloseTimeout: '2 hours',
  // Every batch heartbeats: a stuck delete is told from a long one.
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 5 },
});

export async function recordExpiry(input: RecordExpiryInput = {}): Promise<{ asOf: string; expired: ExpiredRows[] }> {
  const asOf = input.asOf ?? new Date().toISOString();
  const expired: ExpiredRows[] = [];
  for (const table of EXPIRING_TABLE_NAMES) {
    setCurrentDetails(`expiring ${table} as of ${asOf}`);
    expired.push(await expireRecords(table, asOf));
  }
  setCurrentDetails(`as of ${asOf}: ${expired.map((e) => `${e.table} ${e.deleted}`).join(', ')}`);
  return { asOf, expired };
}

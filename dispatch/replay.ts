import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import { resetForReplay } from '../db/replay';
import { markWorkflowStarted } from '../db/messages';
import type { Logger } from '../observability/logger';
import { startDispatch, type DispatchSettings } from './start';

export interface ReplayDeps {
  db: Db;
  temporal: Client;
  dispatch: DispatchSettings;
  logger: Logger;
}

export type ReplayOutcome = 'replayed' | 'not_replayable';

/**
 * Re-drives one failed or undelivered message: resets the row (the guard), then
 * starts a new run of `message-<id>`. A run that failed is replaced under
 * ALLOW_DUPLICATE_FAILED_ONLY; one that completed with a failure receipt needs
 * ALLOW_DUPLICATE, which the row reset has already limited to final failures.
 */
export async function replayMessage(deps: ReplayDeps, id: string, accountId: string, source: string): Promise<ReplayOutcome> {
  const message = await resetForReplay(deps.db, id, accountId, source);
  if (!message) return 'not_replayable';
  let started = await startDispatch(deps.temporal, message, deps.dispatch, 'ALLOW_DUPLICATE_FAILED_ONLY');
  if (started === 'already') started = await startDispatch(deps.temporal, message, deps.dispatch, 'ALLOW_DUPLICATE');
  if (started === 'started') await markWorkflowStarted(deps.db, id);
  else deps.logger.warn({ event: 'replay_start_deferred', message_id: id, reason: 'a run is still open; the outbox sweeper retries' });
  return 'replayed';
}

import { defineQuery } from '@temporalio/workflow';

// Shared by the replayMessages workflow, the API and the CLI.

export const REPLAY_WORKFLOW = 'replayMessages';
export const OUTBOX_SCHEDULE_ID = 'outbox-sweeper';

export interface ReplayInput {
  filter: { accountId: string; status: 'failed' | 'undelivered'; channelId?: string; since: string; until: string };
  pageSize: number;
}

export interface ReplayProgress {
  matched: number;
  replayed: number;
  skipped: number;
  done: boolean;
}

export const replayProgressQuery = defineQuery<ReplayProgress>('replayProgress');

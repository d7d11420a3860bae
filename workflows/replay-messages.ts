import { proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { OperationActivities } from '../activities/operations';
import { replayProgressQuery, type ReplayInput, type ReplayProgress } from './replay-definitions';

const ops = proxyActivities<Pick<OperationActivities, 'countReplay' | 'replayPage'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

/**
 * Re-drives every failed (or undelivered) message matching the filter, a page at a
 * time, paced at the channel's send rate so the replay does not flood the limiter.
 */
export async function replayMessages(input: ReplayInput): Promise<ReplayProgress> {
  const progress: ReplayProgress = { matched: 0, replayed: 0, skipped: 0, done: false };
  setHandler(replayProgressQuery, () => progress);
  progress.matched = await ops.countReplay(input.filter);
  let after: string | undefined;
  for (;;) {
    const page = await ops.replayPage(input.filter, after, input.pageSize);
    progress.replayed += page.replayed;
    progress.skipped += page.ids.length - page.replayed;
    if (page.ids.length < input.pageSize || !page.lastId) break;
    after = page.lastId;
    await sleep(Math.ceil((page.replayed / Math.max(1, page.perSecond)) * 1000));
  }
  progress.done = true;
  return progress;
}

import { describe, expect, it } from 'vitest';
import { keepSchedules } from './schedules';

const recorder = () => {
  const lines: Array<{ level: string; event: unknown; attempt?: unknown; retry_in_ms?: unknown }> = [];
  const at = (level: string) => (obj: object) => void lines.push({ level, ...(obj as { event: unknown }) });
  return { lines, logger: { info: at('info'), warn: at('warn') } as never };
};

describe('keepSchedules', () => {
  it('keeps trying with backoff while the server cannot take the schedule, and says when it got through', async () => {
    const { lines, logger } = recorder();
    let calls = 0;
    const upkeep = keepSchedules(
      async () => {
        calls++;
        if (calls < 3) throw new Error('Failed to describe schedule');
      },
      logger,
      { firstRetryMs: 20, maxRetryMs: 30 },
    );
    // The worker does not wait for the retries: the first attempt settles the start.
    expect(await upkeep.firstAttempt).toBe(false);
    await expect.poll(() => calls, { timeout: 2000 }).toBe(3);
    await expect.poll(() => lines.at(-1)?.event).toBe('schedules_ensured');
    expect(lines).toEqual([
      { level: 'warn', event: 'schedules_ensure_failed', attempt: 1, retry_in_ms: 20, err: 'Failed to describe schedule' },
      { level: 'warn', event: 'schedules_ensure_failed', attempt: 2, retry_in_ms: 30, err: 'Failed to describe schedule' },
      { level: 'info', event: 'schedules_ensured', attempts: 3 },
    ]);
    upkeep.stop();
  });

  it('succeeds quietly at the first attempt, and stop() ends the retries', async () => {
    const ok = recorder();
    const upkeep = keepSchedules(async () => undefined, ok.logger);
    expect(await upkeep.firstAttempt).toBe(true);
    expect(ok.lines).toEqual([]);

    const failing = recorder();
    let calls = 0;
    const stopped = keepSchedules(
      async () => {
        calls++;
        throw new Error('unavailable');
      },
      failing.logger,
      { firstRetryMs: 10 },
    );
    expect(await stopped.firstAttempt).toBe(false);
    stopped.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
  });
});

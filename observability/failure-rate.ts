/** Outcome of one provider call, as the send activity saw it. */
export type SendAttemptOutcome = 'ok' | 'permanent' | 'transient' | 'rate_limited' | 'error';

/** Failures / attempts over the last 5 minutes, in 10-second buckets. */
export const FAILURE_WINDOW_MS = 5 * 60_000;
const BUCKET_MS = 10_000;

interface Bucket {
  index: number;
  attempts: number;
  failures: number;
}

/**
 * A rolling failure ratio per key (channel type). 429s count as attempts but not as
 * failures: throttling has its own alerts and must not page as "the provider is failing".
 */
export class RollingFailureRate {
  private readonly buckets = new Map<string, Bucket[]>();

  constructor(
    private readonly windowMs = FAILURE_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  record(key: string, outcome: SendAttemptOutcome): void {
    const index = Math.floor(this.now() / BUCKET_MS);
    const list = this.prune(key, index);
    let last = list.at(-1);
    if (last?.index !== index) {
      last = { index, attempts: 0, failures: 0 };
      list.push(last);
    }
    last.attempts++;
    if (outcome !== 'ok' && outcome !== 'rate_limited') last.failures++;
  }

  /** 0 when the key had no attempt in the window (nothing is failing). */
  rate(key: string): number {
    const list = this.prune(key, Math.floor(this.now() / BUCKET_MS));
    let attempts = 0;
    let failures = 0;
    for (const b of list) {
      attempts += b.attempts;
      failures += b.failures;
    }
    return attempts === 0 ? 0 : failures / attempts;
  }

  /** Every key seen since the process started, so a quiet channel type reads 0 rather than vanishing. */
  keys(): string[] {
    return [...this.buckets.keys()];
  }

  private prune(key: string, index: number): Bucket[] {
    const oldest = index - Math.ceil(this.windowMs / BUCKET_MS) + 1;
    const list = (this.buckets.get(key) ?? []).filter((b) => b.index >= oldest);
    this.buckets.set(key, list);
    return list;
  }
}

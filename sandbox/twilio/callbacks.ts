import { randomUUID } from 'node:crypto';
import { twilioSignature } from './wire';

export interface CallbackRecord {
  url: string;
  status: string;
  /** 0 when the receiver could not be reached (refused, reset, timed out). */
  httpStatus: number;
}

const ATTEMPTS = 4;
const FIRST_BACKOFF_MS = 100;
const RECEIVER_TIMEOUT_MS = 5_000;

/**
 * Posts signed status callbacks the way Twilio does, retrying a receiver that
 * answers non-2xx or cannot be reached. Owns every timer and request it
 * starts so close() leaves nothing behind.
 */
export class CallbackDispatcher {
  readonly sent: CallbackRecord[] = [];
  /** Pending sleeps and how to wake them, so close() ends every chain at once. */
  private readonly sleepers = new Map<NodeJS.Timeout, () => void>();
  private readonly inflight = new Set<AbortController>();
  private stopped = false;

  constructor(private readonly log: (line: string) => void) {}

  get closed(): boolean {
    return this.stopped;
  }

  /** Resolves after ms, or at once when closed (callers check `closed`). */
  sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleepers.delete(timer);
        resolve();
      }, ms);
      this.sleepers.set(timer, resolve);
    });
  }

  /** One delivery; the same I-Twilio-Idempotency-Token on every retry, as Twilio sends. */
  async deliver(url: string, params: Record<string, string>, authToken: string, idempotencyToken = randomUUID()): Promise<void> {
    const body = new URLSearchParams(params).toString();
    const headers = {
      'Content-Type': 'application/x-www-form-urlencoded',
      'User-Agent': 'TwilioProxy/1.1',
      'X-Twilio-Signature': twilioSignature(authToken, url, params),
      'I-Twilio-Idempotency-Token': idempotencyToken,
    };
    const status = params.MessageStatus ?? '';
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closed; attempt++) {
      let httpStatus = 0;
      const request = new AbortController();
      const timeout = setTimeout(() => request.abort(), RECEIVER_TIMEOUT_MS);
      this.inflight.add(request);
      try {
        const res = await fetch(url, { method: 'POST', headers, body, signal: request.signal });
        await res.arrayBuffer();
        httpStatus = res.status;
      } catch {
        if (this.closed) return;
      } finally {
        clearTimeout(timeout);
        this.inflight.delete(request);
      }
      this.sent.push({ url, status, httpStatus });
      this.log(`callback ${status} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}`);
      if (httpStatus >= 200 && httpStatus < 300) return;
      if (attempt < ATTEMPTS) await this.sleep(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
    }
  }

  close(): void {
    this.stopped = true;
    for (const request of this.inflight) request.abort();
    for (const [timer, wake] of this.sleepers) {
      clearTimeout(timer);
      wake();
    }
    this.sleepers.clear();
  }
}

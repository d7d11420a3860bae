import { hubSignature, metaJson } from './wire';

export type WebhookKind = 'whatsapp' | 'messenger';

export interface WebhookRecord {
  kind: WebhookKind;
  url: string;
  /** What the delivery carried: a status ("delivered"), "inbound", "deliveries" or "reads". */
  event: string;
  attempt: number;
  /** 0 when the receiver could not be reached (refused, reset, timed out). */
  httpStatus: number;
  body: string;
}

const ATTEMPTS = 4;
const FIRST_BACKOFF_MS = 100;
const RECEIVER_TIMEOUT_MS = 5_000;

/**
 * Posts signed webhooks the way Meta does — JSON with escaped unicode, signed with
 * X-Hub-Signature-256 over the app secret — retrying a receiver that answers
 * non-2xx or cannot be reached. Owns every timer and request it starts so
 * close() leaves nothing behind.
 */
export class WebhookDispatcher {
  readonly sent: WebhookRecord[] = [];
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

  /** Delivers one webhook; resolves with the last HTTP status (0 = unreachable). */
  async deliver(kind: WebhookKind, url: string, event: string, payload: unknown, appSecret: string): Promise<number> {
    const body = metaJson(payload);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'facebookexternalua',
      'X-Hub-Signature-256': hubSignature(body, appSecret),
    };
    let httpStatus = 0;
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closed; attempt++) {
      httpStatus = 0;
      const request = new AbortController();
      const timeout = setTimeout(() => request.abort(), RECEIVER_TIMEOUT_MS);
      this.inflight.add(request);
      try {
        const res = await fetch(url, { method: 'POST', headers, body, signal: request.signal });
        await res.arrayBuffer();
        httpStatus = res.status;
      } catch {
        if (this.closed) return 0;
      } finally {
        clearTimeout(timeout);
        this.inflight.delete(request);
      }
      this.sent.push({ kind, url, event, attempt, httpStatus, body });
      this.log(`webhook ${kind} ${event} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}`);
      if (httpStatus >= 200 && httpStatus < 300) return httpStatus;
      if (attempt < ATTEMPTS) await this.sleep(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
    }
    return httpStatus;
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

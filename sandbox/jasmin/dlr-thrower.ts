// Jasmin's DLRThrower (jasmin/routing/throwers.py, http_dlr_callback): calls a
// message's dlr-url with the receipt as form fields (POST) or query parameters
// (GET), and calls again, retry_delay later, until the answer is 'ACK/Jasmin'
// or max_retries retries are spent.

export interface DlrCall {
  /** The dlr-url as given to /send, before Jasmin added the receipt's parameters. */
  url: string;
  method: 'GET' | 'POST';
  level: number;
  messageStatus: string;
  /** Jasmin's message id (the `id` field). */
  id: string;
  fields: Record<string, string>;
  attempt: number;
  /** 0 when the receiver could not be reached (refused, reset, timed out). */
  httpStatus: number;
  /** The receiver's answer, first 200 characters. */
  body: string;
  acked: boolean;
  at: number;
}

export interface ThrowerConfig {
  /** dlr-thrower retry_delay: 30 s in Jasmin. */
  retryDelayMs: number;
  /** dlr-thrower max_retries: 3 in Jasmin, so up to 4 calls. */
  maxRetries: number;
  /** dlr-thrower http_timeout: 30 s in Jasmin. */
  timeoutMs: number;
}

/** Owns every timer and request it starts, so close() leaves nothing behind. */
export class DlrThrower {
  readonly calls: DlrCall[] = [];
  private readonly sleepers = new Map<NodeJS.Timeout, () => void>();
  private readonly inflight = new Set<AbortController>();
  private stopped = false;

  constructor(
    private readonly config: ThrowerConfig,
    private readonly log: (line: string) => void,
  ) {}

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

  async throwDlr(url: string, method: 'GET' | 'POST', fields: Record<string, string>): Promise<void> {
    for (let attempt = 1; attempt <= this.config.maxRetries + 1 && !this.closed; attempt++) {
      const { httpStatus, body } = await this.call(url, method, fields);
      if (this.closed) return;
      // Jasmin 0.11 raises on any status >= 400 and on any body but ACK/Jasmin, and requeues both alike.
      const acked = httpStatus > 0 && httpStatus < 400 && body.trim() === 'ACK/Jasmin';
      this.calls.push({
        url,
        method,
        level: Number(fields.level),
        messageStatus: fields.message_status ?? '',
        id: fields.id ?? '',
        fields,
        attempt,
        httpStatus,
        body: body.slice(0, 200),
        acked,
        at: Date.now(),
      });
      this.log(`DLR ${fields.message_status} level ${fields.level} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}${acked ? ' ACK' : ''}`);
      if (acked) return;
      if (attempt <= this.config.maxRetries) await this.sleep(this.config.retryDelayMs);
    }
  }

  private async call(url: string, method: 'GET' | 'POST', fields: Record<string, string>): Promise<{ httpStatus: number; body: string }> {
    const request = new AbortController();
    const timeout = setTimeout(() => request.abort(), this.config.timeoutMs);
    this.inflight.add(request);
    try {
      const target = new URL(url);
      // treq merges GET params into the dlr-url's own query string.
      if (method === 'GET') for (const [k, v] of Object.entries(fields)) target.searchParams.append(k, v);
      const res = await fetch(target, {
        method,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'text/plain',
          'User-Agent': 'Jasmin gateway/1.0 DLRThrower',
        },
        body: method === 'POST' ? new URLSearchParams(fields).toString() : undefined,
        signal: request.signal,
      });
      return { httpStatus: res.status, body: await res.text() };
    } catch {
      return { httpStatus: 0, body: '' };
    } finally {
      clearTimeout(timeout);
      this.inflight.delete(request);
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

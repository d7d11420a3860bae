// Jasmin's DLRThrower (jasmin/routing/throwers.py, http_dlr_callback): calls a
// message's dlr-url with the receipt as form fields (POST) or query parameters
// (GET), and calls again, retry_delay later, until the answer is 'ACK/Jasmin'
// or max_retries retries are spent.

import { CallbackSender, type RetryPolicy } from '../shared/callback-sender';

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

/** Owns every timer and request it starts (see CallbackSender), so close() leaves nothing behind. */
export class DlrThrower extends CallbackSender {
  readonly calls: DlrCall[] = [];

  constructor(
    private readonly config: ThrowerConfig,
    private readonly log: (line: string) => void,
  ) {
    super();
  }

  async throwDlr(url: string, method: 'GET' | 'POST', fields: Record<string, string>): Promise<void> {
    const retries: RetryPolicy = { attempts: this.config.maxRetries + 1, timeoutMs: this.config.timeoutMs, delayMs: () => this.config.retryDelayMs };
    const headers = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'text/plain',
      'User-Agent': 'Jasmin gateway/1.0 DLRThrower',
    };
    const body = method === 'POST' ? new URLSearchParams(fields).toString() : undefined;
    await this.callWithRetries(
      retries,
      (signal) => fetch(dlrTarget(url, method, fields), { method, headers, body, signal }),
      ({ httpStatus, body: answer }, attempt) => {
        // Answered after close(): the simulator is gone, so the call is not recorded.
        if (this.closed) return true;
        // Jasmin 0.11 raises on any status >= 400 and on any body but ACK/Jasmin, and requeues both alike.
        const acked = httpStatus > 0 && httpStatus < 400 && answer.trim() === 'ACK/Jasmin';
        this.calls.push({
          url,
          method,
          level: Number(fields.level),
          messageStatus: fields.message_status ?? '',
          id: fields.id ?? '',
          fields,
          attempt,
          httpStatus,
          body: answer.slice(0, 200),
          acked,
          at: Date.now(),
        });
        this.log(`DLR ${fields.message_status} level ${fields.level} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}${acked ? ' ACK' : ''}`);
        return acked;
      },
    );
  }
}

/** treq merges GET params into the dlr-url's own query string. */
function dlrTarget(url: string, method: 'GET' | 'POST', fields: Record<string, string>): URL {
  const target = new URL(url);
  if (method === 'GET') for (const [k, v] of Object.entries(fields)) target.searchParams.append(k, v);
  return target;
}

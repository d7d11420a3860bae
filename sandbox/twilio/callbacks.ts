import { randomUUID } from 'node:crypto';
import { CallbackSender, type RetryPolicy } from '../shared/callback-sender';
import { twilioSignature } from './wire';

export interface CallbackRecord {
  url: string;
  status: string;
  /** 0 when the receiver could not be reached (refused, reset, timed out). */
  httpStatus: number;
  /** When the answer came (ms since the epoch). */
  at: number;
}

const RETRIES: RetryPolicy = { attempts: 4, timeoutMs: 5_000, delayMs: (attempt) => 100 * 2 ** (attempt - 1) };

/**
 * Posts signed status callbacks the way Twilio does, retrying a receiver that
 * answers non-2xx or cannot be reached.
 */
export class CallbackDispatcher extends CallbackSender {
  readonly sent: CallbackRecord[] = [];

  constructor(private readonly log: (line: string) => void) {
    super();
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
    await this.callWithRetries(
      RETRIES,
      (signal) => fetch(url, { method: 'POST', headers, body, signal }),
      ({ httpStatus }, attempt) => {
        this.sent.push({ url, status, httpStatus, at: Date.now() });
        this.log(`callback ${status} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}`);
        return httpStatus >= 200 && httpStatus < 300;
      },
    );
  }
}

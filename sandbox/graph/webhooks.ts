import { CallbackSender, type RetryPolicy } from '../shared/callback-sender';
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

const RETRIES: RetryPolicy = { attempts: 4, timeoutMs: 5_000, delayMs: (attempt) => 100 * 2 ** (attempt - 1) };

/**
 * Posts signed webhooks the way Meta does — JSON with escaped unicode, signed with
 * X-Hub-Signature-256 over the app secret — retrying a receiver that answers
 * non-2xx or cannot be reached.
 */
export class WebhookDispatcher extends CallbackSender {
  readonly sent: WebhookRecord[] = [];

  constructor(private readonly log: (line: string) => void) {
    super();
  }

  /** Delivers one webhook; resolves with the last HTTP status (0 = unreachable). */
  async deliver(kind: WebhookKind, url: string, event: string, payload: unknown, appSecret: string): Promise<number> {
    const body = metaJson(payload);
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'facebookexternalua',
      'X-Hub-Signature-256': hubSignature(body, appSecret),
    };
    const last = await this.callWithRetries(
      RETRIES,
      (signal) => fetch(url, { method: 'POST', headers, body, signal }),
      ({ httpStatus }, attempt) => {
        this.sent.push({ kind, url, event, attempt, httpStatus, body });
        this.log(`webhook ${kind} ${event} → ${url} attempt ${attempt}: ${httpStatus || 'unreachable'}`);
        return httpStatus >= 200 && httpStatus < 300;
      },
    );
    return last.httpStatus;
  }
}

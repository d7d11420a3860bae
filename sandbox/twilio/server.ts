import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackDispatcher, type CallbackRecord } from './callbacks';
import { API_VERSION, accountJson, dlrDoneDate, errorJson, messageJson, newSid, type SimMessage } from './wire';

export interface TwilioSimAccount {
  sid: string;
  apiKey: string;
  apiSecret: string;
  authToken: string;
}

/** Random faults for chaos tests and benchmarks; they apply to numbers without a scripted mode. */
export interface GlobalFaults {
  /** Share of creates answered 503 (code 20500). */
  error5xxRate: number;
  /** Share of creates that hang like +15005550408. */
  timeoutRate: number;
  /** Share of creates answered 429 (code 20429) with Retry-After. */
  rateLimitRate: number;
  retryAfterSec: number;
  /** Every create is answered 400 code 21612. */
  permanentAll: boolean;
}

export interface TwilioSimOptions {
  port?: number;
  host?: string;
  accounts: TwilioSimAccount[];
  /** Gap between status callbacks (default 50 ms). */
  callbackDelayMs?: number;
  log?: (line: string) => void;
}

export interface TwilioSimRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  form: Record<string, string>;
  at: number;
}

export interface TwilioSimulator {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Every Messages.json create request received, as received (including rejected ones). */
  requests: TwilioSimRequest[];
  /** Accepted sends per StatusCallback URL. */
  sendCount(statusCallbackUrl: string): number;
  setMode(mode: Partial<GlobalFaults>): void;
  /** One entry per callback attempt, retries included. */
  callbacksSent: CallbackRecord[];
  close(): Promise<void>;
}

const HANG_MS = 30_000;
const E164 = /^\+[1-9]\d{1,14}$/;
/** Twilio's magic "valid sender" test number, used when a Messaging Service picks the sender. */
const SERVICE_SENDER = '+15005550006';

/** Create-call failures scripted by the destination number. */
type SendFault =
  | { kind: 'reject'; status: number; code: number; message: (to: string) => string }
  | { kind: 'fail-first'; attempts: number; respond: FailKind; retryAfterSec?: number };

type FailKind = 'unavailable' | 'rate-limited' | 'hang';

const SEND_FAULTS: Readonly<Record<string, SendFault>> = {
  '+15005550001': {
    kind: 'reject',
    status: 400,
    code: 21211,
    message: (to) => `The 'To' number ${to} is not a valid phone number.`,
  },
  '+15005550009': { kind: 'reject', status: 400, code: 21610, message: () => 'Attempt to send to unsubscribed recipient' },
  '+15005550500': { kind: 'fail-first', attempts: 2, respond: 'unavailable' },
  '+15005550429': { kind: 'fail-first', attempts: 1, respond: 'rate-limited', retryAfterSec: 2 },
  '+15005550408': { kind: 'fail-first', attempts: 1, respond: 'hang' },
};

/** Callback behaviour scripted by the destination number. */
interface CallbackPlan {
  statuses: readonly string[];
  delayMs?: number;
  copies?: number;
  /** All callbacks are delivered before the create call is answered. */
  beforeResponse?: boolean;
  /** The message progresses but nothing is posted. */
  silent?: boolean;
}

const DELIVERED = ['queued', 'sent', 'delivered'] as const;
const CALLBACK_PLANS: Readonly<Record<string, CallbackPlan>> = {
  '+15005550601': { statuses: DELIVERED, delayMs: 2_000 },
  '+15005550602': { statuses: DELIVERED, copies: 2 },
  '+15005550603': { statuses: ['delivered', 'sent', 'queued'] },
  '+15005550604': { statuses: DELIVERED, beforeResponse: true },
  '+15005550605': { statuses: DELIVERED, silent: true },
  '+15005550606': { statuses: ['queued', 'sent', 'undelivered'] },
};

const STATUS_RANK: Readonly<Record<string, number>> = { accepted: 0, queued: 1, sent: 2, delivered: 3, undelivered: 3 };

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const MESSAGE_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\.json$/;
const ACCOUNT_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/;

export async function startTwilioSimulator(opts: TwilioSimOptions): Promise<TwilioSimulator> {
  const log = opts.log ?? ((): void => undefined);
  const callbackDelayMs = opts.callbackDelayMs ?? 50;
  const startedAt = new Date();
  const faults: GlobalFaults = { error5xxRate: 0, timeoutRate: 0, rateLimitRate: 0, retryAfterSec: 1, permanentAll: false };
  const requests: TwilioSimRequest[] = [];
  const messages = new Map<string, SimMessage>();
  const accepted = new Map<string, number>();
  const attempts = new Map<string, number>();
  const callbacks = new CallbackDispatcher(log);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`error ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) reply(res, 500, errorJson(500, 20500, 'Internal Server Error'));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    const method = req.method ?? 'GET';
    log(`${method} ${req.url}`);

    const create = MESSAGES_PATH.exec(path);
    if (create && method === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      requests.push({ method, path: req.url ?? path, headers: { ...req.headers }, form, at: Date.now() });
      const account = authenticate(req, create[1] ?? '');
      if (!account) return unauthorized(res);
      return createMessage(account, form, res);
    }
    const one = MESSAGE_PATH.exec(path);
    if (one && method === 'GET') {
      if (!authenticate(req, one[1] ?? '')) return unauthorized(res);
      const message = messages.get(one[2] ?? '');
      if (!message || message.accountSid !== one[1]) return notFound(res, path);
      return reply(res, 200, messageJson(message));
    }
    const accountMatch = ACCOUNT_PATH.exec(path);
    if (accountMatch && method === 'GET') {
      const account = authenticate(req, accountMatch[1] ?? '');
      if (!account) return unauthorized(res);
      return reply(res, 200, accountJson(account.sid, account.authToken, startedAt));
    }
    return notFound(res, path);
  }

  async function createMessage(account: TwilioSimAccount, form: Record<string, string>, res: ServerResponse): Promise<void> {
    const { To: to, From: from, Body: body, MessagingServiceSid: serviceSid, StatusCallback: statusCallback } = form;
    if (!to) return reply(res, 400, errorJson(400, 21604, "A 'To' phone number is required."));
    if (!E164.test(to)) return reply(res, 400, errorJson(400, 21211, `The 'To' number ${to} is not a valid phone number.`));
    if (!from && !serviceSid) return reply(res, 400, errorJson(400, 21603, "A 'From' phone number is required."));
    if (!body) return reply(res, 400, errorJson(400, 21602, 'Message body is required.'));

    const fault = SEND_FAULTS[to];
    if (fault?.kind === 'reject') return reply(res, fault.status, errorJson(fault.status, fault.code, fault.message(to)));
    if (fault?.kind === 'fail-first') {
      // Counted per StatusCallback URL, i.e. per message of ours, so each test message sees its own first attempts.
      const key = statusCallback ?? `to:${to}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      if (attempt <= fault.attempts) return failAttempt(fault.respond, res, fault.retryAfterSec);
    }
    if (!fault && !CALLBACK_PLANS[to]) {
      if (faults.permanentAll) {
        const reason = `The 'To' phone number: ${to}, is not currently reachable using the 'From' phone number: ${from ?? serviceSid} via SMS.`;
        return reply(res, 400, errorJson(400, 21612, reason));
      }
      if (Math.random() < faults.rateLimitRate) return failAttempt('rate-limited', res);
      if (Math.random() < faults.error5xxRate) return failAttempt('unavailable', res);
      if (Math.random() < faults.timeoutRate) return failAttempt('hang', res);
    }

    const now = new Date();
    const message: SimMessage = {
      sid: newSid('SM'),
      accountSid: account.sid,
      from: from ?? null,
      to,
      body,
      messagingServiceSid: serviceSid ?? null,
      statusCallback: statusCallback ?? null,
      // A Messaging Service accepts first and queues once it has picked a sender.
      status: from ? 'queued' : 'accepted',
      errorCode: null,
      errorMessage: null,
      createdAt: now,
      updatedAt: now,
      sentAt: null,
    };
    messages.set(message.sid, message);
    accepted.set(statusCallback ?? '', (accepted.get(statusCallback ?? '') ?? 0) + 1);
    const plan = CALLBACK_PLANS[to] ?? { statuses: DELIVERED };
    const snapshot = messageJson(message);
    if (plan.beforeResponse) await runCallbacks(message, plan, account);
    else void runCallbacks(message, plan, account).catch((err: unknown) => log(`callbacks ${message.sid}: ${String(err)}`));
    reply(res, 201, snapshot);
  }

  async function runCallbacks(message: SimMessage, plan: CallbackPlan, account: TwilioSimAccount): Promise<void> {
    for (const status of plan.statuses) {
      if (!plan.beforeResponse) await callbacks.sleep(plan.delayMs ?? callbackDelayMs);
      if (callbacks.closed) return;
      advance(message, status);
      if (plan.silent || !message.statusCallback) continue;
      const params = callbackParams(message, status);
      const token = randomUUID();
      for (let copy = 0; copy < (plan.copies ?? 1); copy++) {
        await callbacks.deliver(message.statusCallback, params, account.authToken, token);
      }
    }
  }

  function failAttempt(kind: FailKind, res: ServerResponse, retryAfterSec = faults.retryAfterSec): void {
    if (kind === 'unavailable') return reply(res, 503, errorJson(503, 20500, 'Service Unavailable'));
    if (kind === 'rate-limited') {
      return reply(res, 429, errorJson(429, 20429, 'Too Many Requests'), { 'Retry-After': String(retryAfterSec) });
    }
    // Twilio's edge sometimes accepts the connection and then goes silent; clients must time out.
    const timer = setTimeout(() => res.socket?.destroy(), HANG_MS);
    res.on('close', () => clearTimeout(timer));
  }

  function authenticate(req: IncomingMessage, sid: string): TwilioSimAccount | undefined {
    const match = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) return undefined;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const [user, pass] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const account = opts.accounts.find((a) => a.sid === sid);
    if (!account) return undefined;
    const byKey = user === account.apiKey && sameSecret(pass, account.apiSecret);
    const byToken = user === account.sid && sameSecret(pass, account.authToken);
    return byKey || byToken ? account : undefined;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  log(`twilio simulator listening on ${host}:${port}`);

  return {
    url: `http://${host}:${port}`,
    requests,
    callbacksSent: callbacks.sent,
    sendCount: (statusCallbackUrl) => accepted.get(statusCallbackUrl) ?? 0,
    setMode: (mode) => void Object.assign(faults, mode),
    close: () =>
      new Promise<void>((resolve, reject) => {
        callbacks.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging responses and idle keep-alive sockets would hold close() open; destroy them.
        server.closeAllConnections();
      }),
  };
}

/** Status only moves forward in the stored resource, whatever order the callbacks go out in. */
function advance(message: SimMessage, status: string): void {
  const now = new Date();
  if ((STATUS_RANK[status] ?? 0) <= (STATUS_RANK[message.status] ?? 0)) return;
  message.status = status;
  message.updatedAt = now;
  if (status === 'sent') message.sentAt = now;
  message.from ??= SERVICE_SENDER;
  if (status === 'undelivered') {
    message.errorCode = 30005;
    message.errorMessage = 'Unknown destination handset';
  }
}

/** The fields Twilio posts to a StatusCallback for an outbound SMS. */
function callbackParams(message: SimMessage, status: string): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: message.accountSid,
    ApiVersion: API_VERSION,
    From: message.from ?? SERVICE_SENDER,
    MessageSid: message.sid,
    MessageStatus: status,
    SmsSid: message.sid,
    SmsStatus: status,
    To: message.to,
  };
  if (message.messagingServiceSid) params.MessagingServiceSid = message.messagingServiceSid;
  if (status === 'undelivered' || status === 'failed') params.ErrorCode = '30005';
  if (status === 'delivered' || status === 'undelivered') params.RawDlrDoneDate = dlrDoneDate(new Date());
  return params;
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Twilio-Request-Id': `RQ${randomBytes(16).toString('hex')}`,
    ...headers,
  });
  res.end(text);
}

function unauthorized(res: ServerResponse): void {
  reply(res, 401, errorJson(401, 20003, 'Authenticate'), { 'WWW-Authenticate': 'Basic realm="Twilio API"' });
}

function notFound(res: ServerResponse, path: string): void {
  reply(res, 404, errorJson(404, 20404, `The requested resource ${path} was not found`));
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

import { randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DlrThrower, type DlrCall } from './dlr-thrower';
import { json, readArgs, reply, sameSecret } from './http-util';
import { managementApi, metricsText, type JasminSimConnector } from './connectors';
import { BALANCE_FIELDS, FINAL_STATES, gsmLength, HttpApiError, partsOf, pythonJson, RATE_FIELDS, receiptDate, SEND_FIELDS, validateArgs } from './wire';

export type { JasminSimConnector } from './connectors';

export interface JasminSimUser {
  username: string;
  password: string;
  /** mt_messaging_cred quota balance; undefined = unlimited ('ND'). */
  balance?: number;
  /** mt_messaging_cred quota sms_count, one per part sent; undefined = unlimited ('ND'). */
  smsCount?: number;
  /** mt_messaging_cred quota http_throughput, messages per second. */
  httpThroughput?: number;
}

/** Random faults for chaos tests and benchmarks; they apply to numbers without a scripted behaviour. */
export interface GlobalFaults {
  /** Share of sends answered 500 `Cannot send submit_sm, ...`. */
  serverErrorRate: number;
  /** Share of sends answered 403 `User throughput exceeded`. */
  throughputRate: number;
  /** Every send is answered 412 `No route found`. */
  noRouteAll: boolean;
}

export interface JasminSimOptions {
  port?: number;
  host?: string;
  users: JasminSimUser[];
  /** Basic-auth users of the management REST API (jasmin-api); default: `users`. */
  managementUsers?: Array<{ username: string; password: string }>;
  /** The SMPP client connectors behind the default route; default one `smsc1`, started and BOUND_TRX. */
  connectors?: JasminSimConnector[];
  /** Gap before each receipt (default 50 ms): submit_sm_resp, then each deliver_sm. */
  dlrDelayMs?: number;
  /** DLRThrower retry_delay (Jasmin: 30 s; default here 30 s too). */
  dlrRetryDelayMs?: number;
  /** DLRThrower max_retries (Jasmin: 3). */
  dlrMaxRetries?: number;
  /** DLRThrower http_timeout (Jasmin: 30 s). */
  dlrTimeoutMs?: number;
  /** http-api long_content_max_parts (Jasmin: 5): longer content is cut to this many parts. */
  longContentMaxParts?: number;
  log?: (line: string) => void;
}

export interface JasminSimRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Query and form (or JSON) arguments, as Jasmin reads them. */
  args: Record<string, string>;
  /** What the simulator answered. */
  status: number;
  body: string;
  at: number;
}

/** A receipt the SMSC sent that Jasmin could not map to a message (Jasmin logs "Got a DLR for an unknown message id"). */
export interface UnmappedReceipt {
  /** Jasmin's message id. */
  id: string;
  smscId: string;
  messageStatus: string;
  part: number;
  of: number;
}

export interface JasminSimulator {
  /** http://127.0.0.1:<port>: the HTTP API and, on the same port, the management REST API (/api/...). */
  url: string;
  /** Every /send request, rejected ones included. */
  requests: JasminSimRequest[];
  /** Every DLR call attempt, retries included. */
  dlrCalls: DlrCall[];
  unmappedReceipts: UnmappedReceipt[];
  /** Accepted sends to a number (with or without +) or for one of our message ids (the dlr-url's message_id). */
  sendCount(toOrMessageId: string): number;
  setMode(mode: Partial<GlobalFaults>): void;
  setConnector(cid: string, state: Partial<Omit<JasminSimConnector, 'cid'>>): void;
  close(): Promise<void>;
}

/** Scripted behaviour by destination (digits, no +). Numbers from Ofcom's drama range, which no one holds. */
interface NumberPlan {
  /** /send refusal: on every attempt, or on the first `attempts` per message. */
  refuse?: { status: number; message: string; attempts?: number };
  /** submit_sm_resp command_status when not ESME_ROK. */
  submitError?: string;
  /** Terminal receipts in order; [] = the SMSC sends none. */
  receipts?: Array<{ stat: string; err: string }>;
  /** Which parts of a long message the SMSC sends receipts for (default: the last, the only one Jasmin asks for). */
  receiptParts?: 'last' | 'every' | 'first';
}

const NO_ROUTE = 'No route found';
const SUBMIT_FAILED = 'Cannot send submit_sm, check SMPPClientManagerPB log file for details';
const THROUGHPUT = 'User throughput exceeded';
const NO_CHARGE = 'Cannot charge submit_sm, check RouterPB log file for details';

export const NUMBER_PLANS: Readonly<Record<string, NumberPlan>> = {
  '447700900412': { refuse: { status: 412, message: NO_ROUTE } },
  '447700900402': { refuse: { status: 403, message: NO_CHARGE } },
  '447700900500': { refuse: { status: 500, message: SUBMIT_FAILED, attempts: 2 } },
  '447700900429': { refuse: { status: 403, message: THROUGHPUT, attempts: 1 } },
  '447700900001': { receipts: [{ stat: 'UNDELIV', err: '001' }] },
  '447700900002': { receipts: [{ stat: 'REJECTD', err: '045' }] },
  '447700900003': { receipts: [{ stat: 'EXPIRED', err: '000' }] },
  '447700900004': { receipts: [] },
  '447700900005': { submitError: 'ESME_RINVDSTADR' },
  '447700900006': {
    receipts: [
      { stat: 'ACCEPTD', err: '000' },
      { stat: 'DELIVRD', err: '000' },
    ],
  },
  '447700900008': { receiptParts: 'every' },
  '447700900009': { receiptParts: 'first' },
};

const DELIVERED = [{ stat: 'DELIVRD', err: '000' }];

interface SimMessage {
  id: string;
  to: string;
  content: string;
  parts: number;
  dlrUrl: string;
  dlrLevel: number;
  dlrMethod: 'GET' | 'POST';
  connector: string;
  submittedAt: Date;
  plan: NumberPlan;
}

export async function startJasminSimulator(opts: JasminSimOptions): Promise<JasminSimulator> {
  const log = opts.log ?? ((): void => undefined);
  const dlrDelayMs = opts.dlrDelayMs ?? 50;
  const maxParts = opts.longContentMaxParts ?? 5;
  const faults: GlobalFaults = { serverErrorRate: 0, throughputRate: 0, noRouteAll: false };
  const connectors: JasminSimConnector[] = (opts.connectors ?? [{ cid: 'smsc1', status: 'started', session: 'BOUND_TRX' }]).map((c) => ({ ...c }));
  const requests: JasminSimRequest[] = [];
  const unmappedReceipts: UnmappedReceipt[] = [];
  const accepted = new Map<string, number>();
  const attempts = new Map<string, number>();
  const lastSubmitAt = new Map<string, number>();
  const smsCounts = new Map(opts.users.map((u) => [u.username, u.smsCount]));
  const thrower = new DlrThrower(
    { retryDelayMs: opts.dlrRetryDelayMs ?? 30_000, maxRetries: opts.dlrMaxRetries ?? 3, timeoutMs: opts.dlrTimeoutMs ?? 30_000 },
    log,
  );

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`error ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) reply(res, 500, 'text/plain', `Error "Unknown error: ${String(err)}"`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const args = await readArgs(req, url);
    log(`${method} ${url.pathname}`);
    if (url.pathname.startsWith('/api/')) return managementApi(req, url.pathname, res, { admins: opts.managementUsers ?? opts.users, connectors });
    if (url.pathname === '/ping' && method === 'GET') return reply(res, 200, 'text/plain', 'Jasmin/PONG');
    if (url.pathname === '/metrics' && method === 'GET') return reply(res, 200, 'text/plain', metricsText(connectors, requests.length));
    if (url.pathname === '/send' && (method === 'GET' || method === 'POST')) {
      const answer = send(args);
      requests.push({ method, path: req.url ?? '/send', headers: { ...req.headers }, args, ...answer, at: Date.now() });
      return reply(res, answer.status, 'text/plain', answer.body);
    }
    if (url.pathname === '/balance' && method === 'GET') return json(res, balance(args));
    if (url.pathname === '/rate' && method === 'GET') return json(res, rate(args));
    // Twisted's answers for a resource without the method, or no resource at all.
    if (['/send', '/balance', '/rate', '/ping', '/metrics'].includes(url.pathname)) return reply(res, 405, 'text/html', 'Method Not Allowed');
    return reply(res, 404, 'text/html', 'No Such Resource');
  }

  /** endpoints/send.py: render_POST's defaults and validation, then route_routable's checks, in Jasmin's order. */
  function send(args: Record<string, string>): { status: number; body: string } {
    try {
      args.coding ??= '0';
      if ('dlr-url' in args || 'dlr-level' in args) args.dlr = 'yes';
      args.dlr ??= 'no';
      if (args.dlr === 'yes') {
        args['dlr-level'] ??= '1';
        args['dlr-method'] ??= 'POST';
      }
      if (args['dlr-method']) args['dlr-method'] = args['dlr-method'].toUpperCase();
      validateArgs(args, SEND_FIELDS);
      const length = contentLength(args, true);
      const user = authenticate(args);
      const to = (args.to ?? '').replace(/^\+/, '');
      const plan = NUMBER_PLANS[to] ?? {};
      const key = messageKey(args);
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const scripted = plan.refuse && (plan.refuse.attempts === undefined || attempt <= plan.refuse.attempts) ? plan.refuse : undefined;
      const random = !NUMBER_PLANS[to];

      if (scripted?.status === 412 || (random && faults.noRouteAll)) throw new HttpApiError(412, NO_ROUTE);
      if (scripted?.message === THROUGHPUT || (random && Math.random() < faults.throughputRate)) throw new HttpApiError(403, THROUGHPUT);
      throttle(user);
      const parts = partsOf(length, Number(args.coding), maxParts);
      if (scripted?.message === NO_CHARGE) throw new HttpApiError(403, NO_CHARGE);
      charge(user, parts);
      if (scripted?.status === 500 || (random && Math.random() < faults.serverErrorRate)) throw new HttpApiError(500, SUBMIT_FAILED);

      const id = randomUUID();
      for (const k of new Set([to, messageIdOf(args['dlr-url']) ?? ''])) if (k) accepted.set(k, (accepted.get(k) ?? 0) + 1);
      const connector = connectors[0];
      if (args.dlr === 'yes' && args['dlr-url'] && connector) {
        const message: SimMessage = {
          id,
          to,
          content: args.content ?? '',
          parts,
          dlrUrl: args['dlr-url'],
          dlrLevel: Number(args['dlr-level']),
          dlrMethod: args['dlr-method'] === 'GET' ? 'GET' : 'POST',
          connector: connector.cid,
          submittedAt: new Date(),
          plan,
        };
        // A connector that is stopped or unbound keeps the message queued: no SMSC, no receipt.
        if (connector.status === 'started' && connector.session.startsWith('BOUND_')) {
          void receipts(message).catch((err: unknown) => log(`receipts ${id}: ${String(err)}`));
        }
      }
      return { status: 200, body: `Success "${id}"` };
    } catch (err) {
      if (!(err instanceof HttpApiError)) throw err;
      return { status: err.status, body: `Error "${err.message}"` };
    }
  }

  /** The SMSC's side as Jasmin relays it: one level-1 DLR for the submit, level-2 DLRs for the mapped receipt. */
  async function receipts(m: SimMessage): Promise<void> {
    await thrower.sleep(dlrDelayMs);
    if (thrower.closed) return;
    const submitStatus = m.plan.submitError ?? 'ESME_ROK';
    if (m.dlrLevel === 1 || m.dlrLevel === 3) {
      throwDlr(m, { id: m.id, level: '1', message_status: submitStatus, connector: m.connector });
    }
    if (submitStatus !== 'ESME_ROK' || m.dlrLevel === 1) return;

    // Jasmin asks for a receipt on the last part only and maps only that part's SMSC id (listeners.py, #789).
    const smscIds = Array.from({ length: m.parts }, () => randomBytes(4).toString('hex').toUpperCase());
    const reported = m.plan.receiptParts === 'every' ? smscIds.map((_, i) => i) : m.plan.receiptParts === 'first' ? [0] : [m.parts - 1];
    let mapped = true;
    for (const { stat, err } of m.plan.receipts ?? DELIVERED) {
      await thrower.sleep(dlrDelayMs);
      if (thrower.closed) return;
      for (const part of reported) {
        const smscId = smscIds[part] ?? '';
        if (!mapped || part !== m.parts - 1) {
          unmappedReceipts.push({ id: m.id, smscId, messageStatus: stat, part: part + 1, of: m.parts });
          continue;
        }
        throwDlr(m, {
          id: m.id,
          level: '2',
          message_status: stat,
          // Jasmin 0.11 passes the receipt's id as `connector` for terminal receipts (managers/dlr.py).
          connector: smscId,
          id_smsc: smscId,
          sub: '001',
          dlvrd: stat === 'DELIVRD' ? '001' : '000',
          subdate: receiptDate(m.submittedAt),
          donedate: receiptDate(new Date()),
          err,
          text: m.content.slice(0, 20),
        });
      }
      // After a final state Jasmin deletes the message's DLR request: later receipts find no map.
      if (FINAL_STATES.has(stat)) mapped = false;
    }
  }

  function throwDlr(m: SimMessage, fields: Record<string, string>): void {
    void thrower.throwDlr(m.dlrUrl, m.dlrMethod, fields).catch((err: unknown) => log(`dlr ${m.id}: ${String(err)}`));
  }

  /** endpoints/balance.py: JSON, errors as a JSON string. */
  function balance(args: Record<string, string>): { status: number; body: string } {
    try {
      validateArgs(args, BALANCE_FIELDS);
      const user = authenticate(args);
      const count = smsCounts.get(user.username);
      return {
        status: 200,
        body: pythonJson({ balance: user.balance === undefined ? 'ND' : { float: user.balance }, sms_count: count ?? 'ND' }),
      };
    } catch (err) {
      if (!(err instanceof HttpApiError)) throw err;
      return { status: err.status, body: JSON.stringify(err.message) };
    }
  }

  /** endpoints/rate.py: the route's unit rate (0 here) and the parts the content needs. */
  function rate(args: Record<string, string>): { status: number; body: string } {
    try {
      args.coding ??= '0';
      if (!('content' in args) && !('hex-content' in args)) args.content = '';
      validateArgs(args, RATE_FIELDS);
      const length = contentLength(args, false);
      authenticate(args);
      const to = (args.to ?? '').replace(/^\+/, '');
      if (NUMBER_PLANS[to]?.refuse?.status === 412 || (!NUMBER_PLANS[to] && faults.noRouteAll)) throw new HttpApiError(412, NO_ROUTE);
      return { status: 200, body: pythonJson({ unit_rate: { float: 0 }, submit_sm_count: partsOf(length, Number(args.coding), maxParts) }) };
    } catch (err) {
      if (!(err instanceof HttpApiError)) throw err;
      return { status: err.status, body: JSON.stringify(err.message) };
    }
  }

  function contentLength(args: Record<string, string>, requireContent: boolean): number {
    const hex = args['hex-content'];
    if (requireContent && args.content === undefined && hex === undefined) throw new HttpApiError(400, 'content or hex-content not present.');
    if (args.content !== undefined && hex !== undefined) {
      throw new HttpApiError(400, 'content and hex-content cannot be used both in same request.');
    }
    if (hex !== undefined) {
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new HttpApiError(400, `Invalid hex-content data: '${hex}'`);
      return hex.length / 2;
    }
    // coding 0 content is converted from UTF-8 to GSM 03.38; other codings forward the bytes as they came.
    return args.coding === '0' ? gsmLength(args.content ?? '') : Buffer.byteLength(args.content ?? '');
  }

  function authenticate(args: Record<string, string>): JasminSimUser {
    const user = opts.users.find((u) => u.username === args.username);
    if (!user || !sameSecret(args.password ?? '', user.password)) {
      throw new HttpApiError(403, `Authentication failure for username:${args.username ?? ''}`);
    }
    return user;
  }

  /** send.py's QoS check: one submit per 1/http_throughput seconds per user. */
  function throttle(user: JasminSimUser): void {
    if (!user.httpThroughput) return;
    const last = lastSubmitAt.get(user.username);
    if (last !== undefined && Date.now() - last < 1000 / user.httpThroughput) throw new HttpApiError(403, THROUGHPUT);
    lastSubmitAt.set(user.username, Date.now());
  }

  function charge(user: JasminSimUser, parts: number): void {
    const count = smsCounts.get(user.username);
    if (count === undefined) return;
    if (parts > count) throw new HttpApiError(403, NO_CHARGE);
    smsCounts.set(user.username, count - parts);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  log(`jasmin simulator listening on ${host}:${port}`);

  return {
    url: `http://${host}:${port}`,
    requests,
    dlrCalls: thrower.calls,
    unmappedReceipts,
    sendCount: (key) => accepted.get(key.replace(/^\+/, '')) ?? 0,
    setMode: (mode) => void Object.assign(faults, mode),
    setConnector: (cid, state) => {
      const connector = connectors.find((c) => c.cid === cid);
      if (!connector) throw new Error(`no connector ${cid}`);
      Object.assign(connector, state);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        thrower.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Per message of ours: the engine puts our id in every dlr-url, so retries of one message count together. */
function messageKey(args: Record<string, string>): string {
  return messageIdOf(args['dlr-url']) ?? args['dlr-url'] ?? `to:${args.to ?? ''}`;
}

function messageIdOf(dlrUrl: string | undefined): string | undefined {
  if (!dlrUrl) return undefined;
  try {
    return new URL(dlrUrl).searchParams.get('message_id') ?? undefined;
  } catch {
    return undefined;
  }
}

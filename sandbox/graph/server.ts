import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorAnswer, NO_FAULTS, type Answer, type GlobalFaults, type GraphSimApp, type SimCore } from './core';
import { messengerInbound, messengerSend } from './messenger';
import { WebhookDispatcher, type WebhookKind, type WebhookRecord } from './webhooks';
import { business, whatsappInbound, whatsappSend } from './whatsapp';
import { errorBody, expectedProof, GRAPH_VERSION_PATH, INVALID_TOKEN, unknownObject } from './wire';

export type { GlobalFaults, GraphSimApp } from './core';
export type { WebhookKind, WebhookRecord } from './webhooks';

export interface GraphSimOptions {
  port?: number;
  host?: string;
  apps: GraphSimApp[];
  /** Gap before each webhook that follows a send (default 50 ms). */
  callbackDelayMs?: number;
  /** Webhook URLs known at start: WhatsApp by phone number id, Messenger by page id. */
  webhookUrls?: Partial<Record<WebhookKind, Record<string, string>>>;
  /**
   * Apply Meta's 24-hour rule (default true): free-form WhatsApp text to someone who has not
   * written (simulateInbound) within 24 h is accepted and then fails with 131047; a Messenger
   * RESPONSE/UPDATE outside it is refused with 10/2018278.
   */
  enforceWindow?: boolean;
  log?: (line: string) => void;
}

export interface GraphSimRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  pathname: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (or form fields), undefined when there was no body. */
  body: unknown;
  raw: string;
  at: number;
}

export interface GraphSimulator {
  /** http://127.0.0.1:<port>: a channel's base_url. */
  url: string;
  /** Every API request, as received (rejected ones included). */
  requests: GraphSimRequest[];
  /** One entry per webhook attempt, retries included. */
  webhooksSent: WebhookRecord[];
  /** Where this phone number's (WhatsApp) or page's (Messenger) webhooks go. */
  setWebhook(kind: WebhookKind, idOrPage: string, url: string): void;
  /** Accepted sends for one of our messages (its biz_opaque_callback_data / message.metadata). */
  sendCount(ourMessageId: string): number;
  /**
   * A signed inbound text message from a user, posted to the webhook; opens the 24-hour
   * window. `from` is E.164 (WhatsApp) or a PSID (Messenger); `to` picks the phone number / page.
   */
  simulateInbound(kind: WebhookKind, from: string, text: string, opts?: { to?: string }): Promise<{ id: string; httpStatus: number }>;
  setMode(mode: Partial<GlobalFaults>): void;
  close(): Promise<void>;
}

const HANG_MS = 30_000;

export async function startGraphSimulator(opts: GraphSimOptions): Promise<GraphSimulator> {
  const log = opts.log ?? ((): void => undefined);
  const requests: GraphSimRequest[] = [];
  const urls: Record<WebhookKind, Map<string, string>> = {
    whatsapp: new Map(Object.entries(opts.webhookUrls?.whatsapp ?? {})),
    messenger: new Map(Object.entries(opts.webhookUrls?.messenger ?? {})),
  };
  const core: SimCore = {
    apps: opts.apps,
    faults: { ...NO_FAULTS },
    callbackDelayMs: opts.callbackDelayMs ?? 50,
    enforceWindow: opts.enforceWindow ?? true,
    webhooks: new WebhookDispatcher(log),
    webhookUrl: (kind, id) => urls[kind].get(id),
    lastInbound: new Map(),
    attempts: new Map(),
    accepted: new Map(),
    log,
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`error ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) write(res, { status: 500, body: errorBody({ status: 500, code: 1, message: 'An unknown error occurred' }) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://graph.sim');
    const method = req.method ?? 'GET';
    const body = parseBody(raw, req.headers['content-type']);
    const query = Object.fromEntries(url.searchParams);
    requests.push({ method, path: req.url ?? url.pathname, pathname: url.pathname, query, headers: { ...req.headers }, body, raw, at: Date.now() });
    log(`${method} ${url.pathname}`);
    const answer = route(method, url.pathname, query, req.headers.authorization, body);
    write(res, answer, url.pathname.split('/')[1] ?? '');
    if (answer.after) void answer.after().catch((err: unknown) => log(`webhooks: ${String(err)}`));
  }

  function route(method: string, pathname: string, query: Record<string, string>, authorization: string | undefined, body: unknown): Answer {
    const [version, id, edge, ...extra] = pathname.split('/').filter(Boolean);
    if (!version || !GRAPH_VERSION_PATH.test(version) || !id || extra.length > 0) {
      return errorAnswer({ status: 400, code: 2500, message: `Unknown path components: ${pathname}` });
    }
    const token = bearer(authorization) ?? query.access_token ?? formToken(body);
    const app = token ? opts.apps.find((a) => sameSecret(token, a.accessToken)) : undefined;
    if (!app) return errorAnswer(INVALID_TOKEN);
    if (query.appsecret_proof !== undefined && !sameSecret(query.appsecret_proof, expectedProof(app.accessToken, app.appSecret))) {
      return errorAnswer({ status: 400, code: 100, type: 'GraphMethodException', message: 'Invalid appsecret_proof provided in the API argument' });
    }
    const isPage = app.pageId !== undefined && (id === 'me' || id === app.pageId);
    const isPhone = app.phoneNumberId !== undefined && id === app.phoneNumberId;

    if (method === 'POST' && edge === 'messages') {
      if (isPage) return messengerSend(core, app, body);
      if (isPhone) return whatsappSend(core, app, body);
      return errorAnswer(unknownObject(id, 'post'));
    }
    if (method === 'GET' && edge === undefined) {
      const fields = query.fields?.split(',');
      if (isPage) return { status: 200, body: pick({ id: app.pageId, name: app.pageName ?? 'Simulated Page' }, fields) };
      if (isPhone) {
        const biz = business(app);
        const phone = {
          id: biz.phoneNumberId,
          display_phone_number: `+${biz.displayPhoneNumber}`,
          verified_name: app.verifiedName ?? 'Simulated Business',
          quality_rating: 'GREEN',
          code_verification_status: 'VERIFIED',
        };
        return { status: 200, body: pick(phone, fields) };
      }
    }
    return errorAnswer(unknownObject(id, method.toLowerCase()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !opts.host || opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  log(`graph simulator listening on ${host}:${port}`);

  return {
    url: `http://${host}:${port}`,
    requests,
    webhooksSent: core.webhooks.sent,
    setWebhook: (kind, id, url) => void urls[kind].set(id, url),
    sendCount: (key) => core.accepted.get(key) ?? 0,
    async simulateInbound(kind, from, text, o = {}) {
      const idOf = (a: GraphSimApp): string | undefined => (kind === 'whatsapp' ? a.phoneNumberId : a.pageId);
      const app = opts.apps.find((a) => idOf(a) !== undefined && (!o.to || idOf(a) === o.to));
      const target = app && idOf(app);
      if (!app || !target) throw new Error(`no ${kind} app${o.to ? ` for ${o.to}` : ''} in this simulator`);
      const url = urls[kind].get(target);
      if (!url) throw new Error(`no ${kind} webhook registered for ${target}`);
      const { id, payload } = kind === 'whatsapp' ? whatsappInbound(core, app, from, text) : messengerInbound(core, app, from, text);
      const httpStatus = await core.webhooks.deliver(kind, url, 'inbound', payload, app.appSecret);
      return { id, httpStatus };
    },
    setMode: (mode) => void Object.assign(core.faults, mode),
    close: () =>
      new Promise<void>((resolve, reject) => {
        core.webhooks.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging responses and idle keep-alive sockets would hold close() open; destroy them.
        server.closeAllConnections();
      }),
  };
}

function write(res: ServerResponse, answer: Answer, version = ''): void {
  if (answer.hang) {
    // Meta's edge sometimes accepts the connection and then goes silent; clients must time out.
    const timer = setTimeout(() => res.socket?.destroy(), HANG_MS);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  const text = JSON.stringify(answer.body ?? {});
  res.writeHead(answer.status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...(GRAPH_VERSION_PATH.test(version) ? { 'facebook-api-version': version } : {}),
    ...answer.headers,
  });
  res.end(text);
}

/** Graph takes JSON bodies or form fields whose values may themselves be JSON (recipient={"id":"…"}). */
function parseBody(raw: string, contentType: string | undefined): unknown {
  if (!raw) return undefined;
  if ((contentType ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries([...new URLSearchParams(raw)].map(([k, v]) => [k, /^[[{]/.test(v) ? tryJson(v) : v]));
  }
  return tryJson(raw);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function bearer(authorization: string | undefined): string | undefined {
  return /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}

function formToken(body: unknown): string | undefined {
  const token = (body as { access_token?: unknown } | undefined)?.access_token;
  return typeof token === 'string' ? token : undefined;
}

function pick(object: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields) return object;
  return Object.fromEntries(Object.entries(object).filter(([k]) => k === 'id' || fields.includes(k)));
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

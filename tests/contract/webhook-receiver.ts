// Our side of the providers' webhooks for the contract suite: a real HTTP server
// the simulators call, turning each call into the WebhookRequest the API route
// would build (raw bytes kept, body parsed by content type, full URL).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChannelAdapter, Credentials, WebhookKind, WebhookRequest } from '../../adapters/types';

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  received: WebhookRequest[];
  /** The first received request `match` accepts, waiting for it up to `timeoutMs`. */
  waitFor(match: (req: WebhookRequest) => boolean, timeoutMs?: number): Promise<WebhookRequest>;
  close(): Promise<void>;
}

/**
 * Answers like the route does for this adapter (Jasmin retries anything but ACK/Jasmin).
 * `credentials` only pick the answer's kind; no adapter's answer depends on them today.
 */
export async function startWebhookReceiver(adapter: ChannelAdapter, credentials: Credentials = {}): Promise<WebhookReceiver> {
  const received: WebhookRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
      const request = webhookRequest({ method: req.method ?? 'POST', url: `${receiver.url}${req.url ?? '/'}`, headers, body: Buffer.concat(chunks) });
      received.push(request);
      const answer = adapter.webhookResponse?.(kindOf(adapter, request, credentials)) ?? { status: 200, headers: {}, body: '' };
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    async waitFor(match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching webhook within ${timeoutMs} ms (${received.length} received)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return receiver;
}

function kindOf(adapter: ChannelAdapter, req: WebhookRequest, credentials: Credentials): WebhookKind {
  try {
    if (adapter.parseStatusUpdates(req, credentials).length > 0) return 'status';
    return adapter.parseInbound(req, credentials).length > 0 ? 'inbound' : 'empty';
  } catch {
    return 'empty';
  }
}

/**
 * A WebhookRequest as api/routes/webhooks.ts builds it: form and JSON bodies parsed,
 * anything else (or JSON that does not parse) left as text, the query read from the URL.
 */
export function webhookRequest(r: { method?: string; url: string; headers?: Record<string, string>; body?: string | Buffer }): WebhookRequest {
  const rawBody = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body ?? '', 'utf8');
  const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: r.method ?? 'POST', url: r.url, headers, rawBody, body: parseBody(rawBody, headers['content-type']), query: queryOf(r.url) };
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  const text = raw.toString('utf8');
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type === 'application/json' || type?.endsWith('+json')) {
    try {
      return raw.length ? (JSON.parse(text) as unknown) : {};
    } catch {
      return text;
    }
  }
  return text;
}

function queryOf(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url).searchParams);
}

/** The same request with the body's first `from` replaced: what an attacker would change. */
export function replaceInBody(req: WebhookRequest, from: string, to: string): WebhookRequest {
  const text = req.rawBody.toString('utf8');
  if (!text.includes(from)) throw new Error(`cannot tamper: body has no '${from}'`);
  return webhookRequest({ method: req.method, url: req.url, headers: stringHeaders(req), body: text.replace(from, to) });
}

export function withoutHeader(req: WebhookRequest, name: string): WebhookRequest {
  if (!Object.keys(req.headers).some((k) => k.toLowerCase() === name.toLowerCase())) throw new Error(`cannot strip: no ${name} header`);
  return { ...req, headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.toLowerCase() !== name.toLowerCase())) };
}

/** The same request called at a URL with these query parameters changed (undefined removes one). */
export function withQuery(req: WebhookRequest, changes: Record<string, string | undefined>): WebhookRequest {
  const url = new URL(req.url);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return webhookRequest({ method: req.method, url: url.toString(), headers: stringHeaders(req), body: req.rawBody });
}

function stringHeaders(req: WebhookRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string] => e[1] !== undefined));
}

/** A local port that was just free: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

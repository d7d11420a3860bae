// The operator commands talk to the API with an API key, like any client: what they show is
// what the key's account may see, and nothing reaches the database behind the API's checks.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ApiTarget {
  url: string;
  key: string;
}

/** API URL and key from flags, else TURUMBA_API_URL / TURUMBA_API_KEY, else the dev stack's .dev/stack.json (DEV_DIR overrides .dev). */
export function apiTarget(flags: { apiUrl?: string; apiKey?: string }, env: Env): ApiTarget {
  const stackFile = join(env.DEV_DIR ?? '.dev', 'stack.json');
  let dev: { api_url?: string; api_key?: string } = {};
  if ((!flags.apiUrl || !flags.apiKey) && existsSync(stackFile)) {
    try {
      dev = JSON.parse(readFileSync(stackFile, 'utf8')) as typeof dev;
    } catch {
      throw new Error(`${stackFile} is not JSON: pass --api-url and --api-key (or TURUMBA_API_URL / TURUMBA_API_KEY)`);
    }
  }
  const url = flags.apiUrl ?? env.TURUMBA_API_URL ?? dev.api_url;
  const key = flags.apiKey ?? env.TURUMBA_API_KEY ?? dev.api_key;
  if (!url) throw new Error(`no API to talk to: pass --api-url (or set TURUMBA_API_URL, or run \`npm run dev\`, which writes ${stackFile})`);
  if (!key) throw new Error(`no API key for ${shownUrl(url)}: pass --api-key (or set TURUMBA_API_KEY)`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`the API URL is not a URL: ${shownUrl(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`the API URL must be http(s): ${shownUrl(url)}`);
  return { url: url.replace(/\/+$/, ''), key };
}

/** A URL as it may be printed: without user:password. */
export function shownUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/@]*@/i, '$1');
}

/** The API answered, and not with success: its status, its stable code, the field at fault and its words. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly field: string | undefined,
    readonly apiMessage: string | undefined,
    url: string,
  ) {
    super(describeFailure(status, code, field, apiMessage, url));
  }
}

function describeFailure(status: number, code: string | undefined, field: string | undefined, message: string | undefined, url: string): string {
  const what = [String(status), code].filter(Boolean).join(' ');
  const words = [field ? `${field}:` : undefined, message].filter(Boolean).join(' ');
  if (status === 401) return `the API at ${url} refused the API key (${what})${words ? `: ${words}` : ''}`;
  if (status >= 500) return `the API at ${url} failed (${what})${words ? `: ${words}` : ''}`;
  return `the API refused the request (${what})${words ? `: ${words}` : ''}`;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export class ApiClient {
  readonly url: string;

  constructor(
    private readonly target: ApiTarget,
    private readonly timeoutMs = 30_000,
  ) {
    this.url = shownUrl(target.url);
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const url = `${this.target.url}${path}${query.size > 0 ? `?${query.toString()}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.target.key}`,
          accept: 'application/json',
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        // The key goes only where it was sent: a redirect is reported, never followed.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new Error(`cannot reach the API at ${this.url}: ${reason(err, this.timeoutMs)}`);
    }
    if (res.status >= 300 && res.status < 400) {
      throw new Error(`the API at ${this.url} answered ${res.status} (a redirect to ${res.headers.get('location') ?? '?'}): pass the final URL as --api-url`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`the API at ${this.url} answered ${res.status} with a body that is not JSON: is it the Turumba API?`);
    }
    if (res.status < 200 || res.status >= 300) {
      const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; field?: unknown; message?: unknown };
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      throw new ApiFailure(res.status, str(b.error), str(b.field), str(b.message), this.url);
    }
    return body as T;
  }
}

function reason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs / 1000} s`;
  // fetch says "fetch failed"; the socket's error is its cause.
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** A 404 from the API, said as the operator asked: "message <id> not found". */
export async function orNotFound<T>(what: string, id: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) throw new Error(`${what} ${id} not found`);
    throw err;
  }
}

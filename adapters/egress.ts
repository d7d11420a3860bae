// The one egress policy every outbound call of an adapter passes: tenant-set targets
// (base_url, rest_api_url, SMTP host) may reach public addresses, and private, loopback,
// link-local and reserved ones only when the operator allows them (EGRESS_ALLOW). The
// decision is made on the address actually connected to (after DNS), so a name that
// resolves to an internal address, or changes its answer between check and use, is refused.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { PermanentSendError } from './types';

/** Longest response body read from a provider; a larger one is cut off and the call fails. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Upper bound of a channel's `timeout_ms`. */
export const MAX_TIMEOUT_MS = 30_000;

/** A target the policy refuses: never retried, the same answer comes every time. */
export class EgressRefusedError extends PermanentSendError {
  constructor(message: string) {
    super(message, 'egress_refused');
  }
}

/** A provider answered 3xx: redirects are not followed (they could lead anywhere). */
export class EgressRedirectError extends PermanentSendError {
  constructor(readonly status: number) {
    super(`provider answered HTTP ${status} (a redirect, which is not followed)`, 'egress_redirect');
  }
}

export class EgressResponseTooLargeError extends PermanentSendError {
  constructor() {
    super(`provider response exceeds ${MAX_RESPONSE_BYTES} bytes`, 'egress_response_too_large');
  }
}

/** A channel's `timeout_ms`, or the adapter's default, never above MAX_TIMEOUT_MS. */
export function boundedTimeout(raw: string | undefined, fallbackMs: number): number {
  const ms = Number(raw);
  return Math.min(Number.isFinite(ms) && ms > 0 ? ms : fallbackMs, MAX_TIMEOUT_MS);
}

interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

export type AllowEntry = { kind: 'host'; host: string } | ({ kind: 'cidr'; text: string } & Cidr);

/** Special-purpose ranges (RFC 6890, the IANA registries), first match names the reason. */
const REFUSED: Array<[string, string]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (CGNAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'reserved'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['198.51.100.0/24', 'reserved'],
  ['203.0.113.0/24', 'reserved'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private (ULA)'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
  ['2001::/23', 'reserved'],
  ['2001:db8::/32', 'reserved'],
  // Anything else outside global unicast: IPv4-compatible, discard, site-local, unassigned.
  ['::/0', 'reserved'],
];
const REFUSED_RANGES = REFUSED.map(([cidr, reason]) => ({ range: parseCidr(cidr) as Cidr, reason }));
const GLOBAL_UNICAST = parseCidr('2000::/3') as Cidr;

/** Parses EGRESS_ALLOW: comma-separated host names, IP addresses and CIDR ranges. */
export function parseAllowList(raw: string): { entries: AllowEntry[]; problems: string[] } {
  const entries: AllowEntry[] = [];
  const problems: string[] = [];
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const cidr = parseCidr(item.includes('/') ? item : `${item}/${isIP(item) === 6 ? 128 : 32}`);
    if (cidr) entries.push({ kind: 'cidr', text: item, ...cidr });
    else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(item) && !item.includes('/')) {
      entries.push({ kind: 'host', host: normalHost(item) });
    } else problems.push(`"${item}" is neither a host name, an IP address nor a CIDR range`);
  }
  return { entries, problems };
}

/**
 * Why `address` may not be connected to, or undefined when it may: inside an allowed
 * range, or public. IPv4 carried in IPv6 (mapped, NAT64, 6to4) is judged as that IPv4.
 */
export function refusalOf(address: string, allow: readonly AllowEntry[] = []): string | undefined {
  const ip = parseIp(address);
  if (!ip) return 'not an IP address';
  const embedded = embeddedIpv4(ip);
  const candidates = embedded ? [ip, embedded] : [ip];
  if (allow.some((e) => e.kind === 'cidr' && candidates.some((c) => inRange(c, e)))) return undefined;
  if (embedded) return refusalOf(formatIpv4(embedded.bytes), []);
  if (ip.family === 6 && inRange(ip, GLOBAL_UNICAST)) {
    return REFUSED_RANGES.find((r) => r.range.prefix > 0 && inRange(ip, r.range))?.reason;
  }
  return REFUSED_RANGES.find((r) => inRange(ip, r.range))?.reason;
}

export type Resolver = (host: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface EgressResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface EgressRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export class EgressPolicy {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  constructor(
    readonly allow: readonly AllowEntry[] = [],
    private readonly resolver: Resolver = systemResolver,
  ) {}

  /** From EGRESS_ALLOW's syntax; throws on an entry it cannot read. */
  static fromList(raw: string, resolver?: Resolver): EgressPolicy {
    const { entries, problems } = parseAllowList(raw);
    if (problems.length > 0) throw new Error(`EGRESS_ALLOW: ${problems.join('; ')}`);
    return new EgressPolicy(entries, resolver);
  }

  /** On the allow list itself: named there, or an IP literal inside an allowed range (sandbox targets). */
  listed(host: string): boolean {
    const h = normalHost(host);
    if (this.allow.some((e) => e.kind === 'host' && e.host === h)) return true;
    const ip = parseIp(h);
    if (!ip) return false;
    const candidates = [ip, ...[embeddedIpv4(ip)].filter((c) => c !== undefined)];
    return this.allow.some((e) => e.kind === 'cidr' && candidates.some((c) => inRange(c, e)));
  }

  /** What is wrong with `host` as a target without asking DNS (an internal IP literal, `localhost`), if anything. */
  literalProblem(host: string): string | undefined {
    const h = normalHost(host);
    if (this.allow.some((e) => e.kind === 'host' && e.host === h)) return undefined;
    if (isIP(h)) {
      const reason = refusalOf(h, this.allow);
      return reason && `${h} is a ${reason} address, not allowed by EGRESS_ALLOW`;
    }
    if (h === 'localhost' || h.endsWith('.localhost')) return `${h} is a loopback name, not allowed by EGRESS_ALLOW`;
    return undefined;
  }

  /** The addresses to connect to for `host`, each checked; throws EgressRefusedError when one is refused. */
  async resolve(host: string): Promise<LookupAddress[]> {
    const h = normalHost(host);
    const literal = this.literalProblem(h);
    if (literal) throw new EgressRefusedError(literal);
    const family = isIP(h);
    if (family) return [{ address: h, family }];
    const addresses = await this.resolver(h);
    if (this.allow.some((e) => e.kind === 'host' && e.host === h)) return addresses;
    for (const a of addresses) {
      const reason = refusalOf(a.address, this.allow);
      if (reason) throw new EgressRefusedError(`${h} resolves to a ${reason} address, not allowed by EGRESS_ALLOW`);
    }
    if (addresses.length === 0) throw Object.assign(new Error(`${h} has no address`), { code: 'ENOTFOUND' });
    return addresses;
  }

  /** `lookup` for net/tls/http: connects only to addresses `resolve` checked. */
  readonly lookup = (hostname: string, options: { family?: number | string; all?: boolean }, callback: LookupCallback): void => {
    this.resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const addresses = wanted ? found.filter((a) => a.family === wanted) : found;
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no IPv${wanted} address`), { code: 'ENOTFOUND' }), '', 0);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  /**
   * One HTTP exchange through the policy: the target is checked (on its resolved
   * address), a 3xx fails with EgressRedirectError, a body over MAX_RESPONSE_BYTES
   * with EgressResponseTooLargeError; the caller's signal aborts it.
   */
  fetch(target: string | URL, req: EgressRequest): Promise<EgressResponse> {
    const url = typeof target === 'string' ? new URL(target) : target;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new EgressRefusedError(`${url.protocol} is not http or https`));
    }
    const host = normalHost(url.hostname);
    const literal = this.literalProblem(host);
    if (literal) return Promise.reject(new EgressRefusedError(literal));
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) {
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'text/plain;charset=UTF-8';
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }
    const secure = url.protocol === 'https:';
    return new Promise<EgressResponse>((resolve, reject) => {
      const signal = req.signal;
      if (signal?.aborted) return reject(signal.reason as Error);
      const request = (secure ? https : http).request({
        protocol: url.protocol,
        hostname: host,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
        lookup: this.lookup as unknown as http.RequestOptions['lookup'],
      });
      const onAbort = () => request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const fail = (err: Error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      request.once('error', fail);
      request.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.destroy();
          return fail(new EgressRedirectError(status));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            request.destroy();
            return fail(new EgressResponseTooLargeError());
          }
          chunks.push(chunk);
        });
        res.once('error', fail);
        res.once('end', () => {
          if (size > MAX_RESPONSE_BYTES) return;
          signal?.removeEventListener('abort', onAbort);
          resolve({ status, headers: toHeaders(res.headers), text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      request.end(req.body);
    });
  }

  /** Closes kept-alive connections (worker shutdown, tests). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
  }
  return headers;
}

function normalHost(host: string): string {
  return host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

function parseCidr(text: string): Cidr | undefined {
  const [addr = '', bits, extra] = text.split('/');
  if (extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return undefined;
  const ip = parseIp(addr);
  const prefix = Number(bits);
  if (!ip || prefix > ip.bytes.length * 8) return undefined;
  return { ...ip, prefix };
}

function parseIp(text: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const t = normalHost(text).replace(/%.*$/, '');
  const family = isIP(t);
  if (family === 4) return { family: 4, bytes: Uint8Array.from(t.split('.').map(Number)) };
  if (family !== 6) return undefined;
  // A trailing dotted quad (::ffff:127.0.0.1) is the last two groups.
  const body = t.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) => `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head = '', rest] = body.split('::');
  const groups = (s: string) => (s ? s.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = Array<string>(8 - h.length - r.length).fill('0');
  const all = rest === undefined ? h : [...h, ...fill, ...r];
  const bytes = new Uint8Array(16);
  all.slice(0, 8).forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[i * 2] = n >> 8;
    bytes[i * 2 + 1] = n & 0xff;
  });
  return { family: 6, bytes };
}

/** IPv4 inside IPv6: mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16). */
function embeddedIpv4(ip: { family: 4 | 6; bytes: Uint8Array }): Cidr | undefined {
  if (ip.family !== 6) return undefined;
  const b = ip.bytes;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return { family: 4, bytes: b.slice(12, 16), prefix: 32 };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return { family: 4, bytes: b.slice(12, 16), prefix: 32 };
  if (b[0] === 0x20 && b[1] === 0x02) return { family: 4, bytes: b.slice(2, 6), prefix: 32 };
  return undefined;
}

function inRange(ip: { family: 4 | 6; bytes: Uint8Array }, range: Cidr): boolean {
  if (ip.family !== range.family) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const take = Math.min(8, range.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((ip.bytes[bit / 8] ?? 0) & mask) !== ((range.bytes[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function formatIpv4(bytes: Uint8Array): string {
  return [...bytes].join('.');
}

/** A host a channel's credentials make us connect to, by the credentials field that names it. */
export type EgressTarget = { field: string; host: string } | { field: string; problem: string };

/** The host of an http(s) URL credential, or its default when unset. */
export function urlTarget(field: string, value: string | undefined, fallback?: string): EgressTarget[] {
  const raw = value || fallback;
  if (!raw) return [];
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return [{ field, problem: 'must be an http(s) URL' }];
    return [{ field, host: normalHost(u.hostname) }];
  } catch {
    return [{ field, problem: 'must be an http(s) URL' }];
  }
}

/**
 * What a credentials check says when it got no answer it recognises: the same words for a
 * closed port, a timeout, a refused TLS handshake or a server that is not the provider's
 * API, so a check cannot be used to map what listens where (and no foreign body is echoed).
 */
export function unreachable(provider: string): string {
  return `${provider}: no valid answer (unreachable, or not the provider's API)`;
}

/** A short, plain value from a provider's answer (a name, a status), or 'unknown': free text is never repeated. */
export function shown(value: unknown): string {
  return typeof value === 'string' && /^[\p{L}\p{N} .,'&()+_:-]{1,64}$/u.test(value) ? value : 'unknown';
}

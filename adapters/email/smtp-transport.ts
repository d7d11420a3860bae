import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import type { Options as SmtpOptions } from 'nodemailer/lib/smtp-transport';
import { SmtpPool } from './smtp-pool';
import { connectionKey, type SmtpSettings } from './smtp-settings';

/** Per-server connections kept open: enough for a few sends in flight at the default rate. */
const POOL_CONNECTIONS = 5;
/** Fresh connection after this many messages, as most providers cap messages per session. */
const MESSAGES_PER_CONNECTION = 100;
const MAX_POOLS = 64;
/** Unused connections are closed well before the usual server idle timeouts (Postfix: 300 s). */
const IDLE_MS = 5_000;

export type PooledTransport = ReturnType<typeof createPooled>;

/** The address to connect to for a host, checked by the egress policy (throws when refused). */
export type ResolveHost = (host: string) => Promise<string>;

/** One connection per call to `address` (already checked), closed by the caller: for checks that must really connect now. */
export function createSingle(s: SmtpSettings, address: string) {
  return nodemailer.createTransport({ ...transportOptions(s), host: address });
}

function createPooled(s: SmtpSettings, resolve: ResolveHost) {
  const auth = login(s);
  return nodemailer.createTransport(
    new SmtpPool({
      connection: connectionOptions(s),
      resolve,
      ...(auth ? { auth } : {}),
      maxConnections: POOL_CONNECTIONS,
      maxMessages: MESSAGES_PER_CONNECTION,
      idleMs: Math.min(IDLE_MS, s.timeoutMs / 2),
    }),
  );
}

function login(s: SmtpSettings): { user: string; pass: string } | undefined {
  return s.username ? { user: s.username, pass: s.password ?? '' } : undefined;
}

function transportOptions(s: SmtpSettings): SmtpOptions {
  const auth = login(s);
  return { ...connectionOptions(s), ...(auth ? { auth } : {}) };
}

/** Everything but the login: SMTPConnection takes that separately. */
function connectionOptions(s: SmtpSettings): SmtpOptions {
  return {
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.requireTls,
    // SNI carries host names only (RFC 6066 §3); an IP host gets none. The certificate is checked
    // against this name too, while the socket goes to the address the egress policy checked.
    ...(isIP(s.host) ? {} : { servername: s.host }),
    tls: { rejectUnauthorized: s.rejectUnauthorized, minVersion: 'TLSv1.2', ...(isIP(s.host) ? {} : { servername: s.host }) },
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    // nodemailer's own logger would print the AUTH exchange; we log outcomes ourselves.
    logger: false,
    debug: false,
  };
}

/**
 * One pooled transport per SMTP account + connection policy, so consecutive sends
 * reuse an authenticated connection instead of a TCP + TLS + AUTH round trip each.
 * Keys are hashes (no password in a readable key); the least recently used pool is
 * closed when there are too many.
 */
export class TransportPool {
  private readonly pools = new Map<string, PooledTransport>();

  constructor(private readonly resolve: ResolveHost) {}

  get(settings: SmtpSettings): PooledTransport {
    const key = connectionKey(settings);
    const found = this.pools.get(key);
    if (found) {
      this.pools.delete(key);
      this.pools.set(key, found);
      return found;
    }
    const created = createPooled(settings, this.resolve);
    this.pools.set(key, created);
    for (const [oldKey, old] of this.pools) {
      if (this.pools.size <= MAX_POOLS) break;
      this.pools.delete(oldKey);
      old.close();
    }
    return created;
  }

  /** A refused login is not worth keeping a pool for; the next send builds a new one. */
  discard(settings: SmtpSettings): void {
    const key = connectionKey(settings);
    this.pools.get(key)?.close();
    this.pools.delete(key);
  }

  get size(): number {
    return this.pools.size;
  }

  close(): void {
    for (const t of this.pools.values()) t.close();
    this.pools.clear();
  }
}

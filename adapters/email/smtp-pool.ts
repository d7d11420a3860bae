// Pooled SMTP connections for one account, as a nodemailer transport.
//
// nodemailer's own pool (`pool: true`) re-sends a message at once on a new connection whenever a
// warm one fails before the message went out, 421 included: it takes every 421 for a server that
// dropped an idle session. A server that throttles with "421 4.7.0 Too many messages" then sees
// the message twice, and the throttle never reaches the retry policy as a rate limit. Here a warm
// connection gets that one second chance only when the failure says the session went away, not
// when the reply names a rate.
import type { Transport } from 'nodemailer';
import type MailMessage from 'nodemailer/lib/mailer/mail-message';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { RATE_WORDS } from './smtp-errors';

export interface SmtpPoolOptions {
  connection: SMTPConnection.Options;
  /** Each new connection goes to the address this gives for connection.host (the egress policy's check). */
  resolve: (host: string) => Promise<string>;
  auth?: { user: string; pass: string };
  /** Connections open at once; more sends than this wait for one to come free. */
  maxConnections: number;
  /** A connection is closed with QUIT after this many messages (providers cap a session). */
  maxMessages: number;
  /** An unused connection is closed with QUIT after this long. */
  idleMs: number;
}

export type SmtpSentInfo = SMTPConnection.SentMessageInfo & { envelope: { from: string | false; to: string[] }; messageId: string };

interface Connection {
  smtp: SMTPConnection;
  /** Send attempts made on it: a used connection may have been dropped by the server since. */
  attempts: number;
  open: boolean;
  retired: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  fresh: boolean;
  give(c: Connection | Promise<Connection>): void;
  fail(err: Error): void;
}

type Outcome = { ok: true; info: SmtpSentInfo } | { ok: false; err: SmtpFailure; unsent: boolean };

type SmtpFailure = Error & { code?: string; responseCode?: number; response?: string };

const SESSION_GONE_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT']);

function failure(message: string, code: string): SmtpFailure {
  return Object.assign(new Error(message), { code });
}

function poolClosed(): SmtpFailure {
  return failure('smtp connection pool closed', 'ECONNECTION');
}

function asFailure(err: unknown): SmtpFailure {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * A failure that says the server ended a session it had kept open: the socket closed, or a 421
 * that does not name a rate ("421 4.4.2 Idle timeout"). Only then is the message worth one more
 * try on a new connection; a throttle or a refusal would get the same answer there.
 */
function sessionGone(err: SmtpFailure): boolean {
  if (err.responseCode === 421) return !RATE_WORDS.test(err.response ?? err.message);
  return err.responseCode === undefined && err.code !== undefined && SESSION_GONE_CODES.has(err.code);
}

export class SmtpPool implements Transport<SmtpSentInfo> {
  readonly name = 'turumba-smtp-pool';
  readonly version = '1';
  readonly supportsAbortSignal = true;

  private readonly idle: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Connections counted against maxConnections: opening, busy or idle. */
  private count = 0;
  private closed = false;

  constructor(private readonly opts: SmtpPoolOptions) {}

  send(mail: MailMessage<SmtpSentInfo>, callback: (err: Error | null, info?: SmtpSentInfo) => void): void {
    this.deliver(mail).then(
      (info) => callback(null, info),
      (err: unknown) => callback(asFailure(err)),
    );
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.fail(poolClosed());
    for (const c of [...this.idle]) this.retire(c, true);
  }

  private async deliver(mail: MailMessage<SmtpSentInfo>): Promise<SmtpSentInfo> {
    const signal = mail.data.signal;
    const first = await this.acquire(false, signal);
    const warm = first.attempts > 0;
    const outcome = await this.sendOn(first, mail, signal);
    if (outcome.ok) return outcome.info;
    if (!(warm && outcome.unsent && sessionGone(outcome.err))) throw outcome.err;
    const second = await this.sendOn(await this.acquire(true, signal), mail, signal);
    if (second.ok) return second.info;
    throw second.err;
  }

  /** A warm idle connection (most recently used first), a new one, or the next one to come free. */
  private acquire(fresh: boolean, signal: AbortSignal | undefined): Promise<Connection> {
    if (this.closed) return Promise.reject(poolClosed());
    if (!fresh) {
      const c = this.idle.pop();
      if (c) {
        clearTimeout(c.idleTimer);
        return Promise.resolve(c);
      }
    }
    const spare = fresh && this.count >= this.opts.maxConnections ? this.idle.shift() : undefined;
    if (spare) this.retire(spare, true);
    if (this.count < this.opts.maxConnections) return this.connect();
    return new Promise<Connection>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(failure('smtp send aborted', 'EABORT'));
      };
      const waiter: Waiter = {
        fresh,
        give: (c) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(c);
        },
        fail: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private connect(): Promise<Connection> {
    this.count += 1;
    return this.opts.resolve(this.opts.connection.host ?? '').then(
      (address) => this.open(address),
      (err: unknown) => {
        // No connection was made: free the slot for the next waiter, which resolves again.
        this.count -= 1;
        const w = this.closed ? undefined : this.waiters.shift();
        if (w) w.give(this.connect());
        throw asFailure(err);
      },
    );
  }

  private open(address: string): Promise<Connection> {
    const smtp = new SMTPConnection({ ...this.opts.connection, host: address });
    const c: Connection = { smtp, attempts: 0, open: true, retired: false };
    return new Promise<Connection>((resolve, reject) => {
      let ready = false;
      const fail = (err: SmtpFailure) => {
        if (ready) return;
        ready = true;
        this.retire(c, false);
        reject(err);
      };
      // Once connected, a failure reaches the send in flight through its callback; an idle
      // connection that fails or is closed by the server just leaves the pool.
      smtp.on('error', (err: SmtpFailure) => {
        c.open = false;
        if (!ready) fail(err);
        else this.dropIfIdle(c);
      });
      smtp.once('end', () => {
        c.open = false;
        if (!ready) fail(failure('connection closed before the session was ready', 'ECONNECTION'));
        else this.dropIfIdle(c);
      });
      smtp.connect((err) => {
        if (err) return fail(err);
        const auth = this.opts.auth;
        // Like nodemailer: log in only where the server offers AUTH (require_tls guards plaintext).
        if (!auth || !smtp.allowsAuth) {
          ready = true;
          return resolve(c);
        }
        smtp.login({ user: auth.user, credentials: { user: auth.user, pass: auth.pass } }, (loginErr) => {
          if (loginErr) return fail(loginErr);
          ready = true;
          resolve(c);
        });
      });
    });
  }

  private sendOn(c: Connection, mail: MailMessage<SmtpSentInfo>, signal: AbortSignal | undefined): Promise<Outcome> {
    c.attempts += 1;
    const envelope = mail.message.getEnvelope();
    const messageId = mail.message.messageId();
    const stream = mail.message.createReadStream();
    return new Promise<Outcome>((resolve) => {
      let done = false;
      const finish = (outcome: Outcome, next: () => void) => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        next();
        resolve(outcome);
      };
      // The server may already have the message; the connection is closed so it cannot finish it.
      const onAbort = () => finish({ ok: false, err: failure('smtp send aborted', 'EABORT'), unsent: false }, () => this.retire(c, false));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      c.smtp.send(envelope, stream, (err, info) => {
        if (!err && info) {
          finish({ ok: true, info: { ...info, envelope: { from: envelope.from, to: envelope.to }, messageId } }, () => this.release(c));
          return;
        }
        const e = asFailure(err ?? failure('smtp send ended without a reply', 'EPROTOCOL'));
        const unsent = !stream.readableDidRead;
        const refusedOnly = (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && e.responseCode !== 421 && c.open;
        finish({ ok: false, err: e, unsent }, () => (refusedOnly ? this.resetAndRelease(c) : this.retire(c, false)));
      });
    });
  }

  /** The server refused this message, not the session: RSET and keep the connection. */
  private resetAndRelease(c: Connection): void {
    c.smtp.reset((err) => (err ? this.retire(c, false) : this.release(c)));
  }

  private release(c: Connection): void {
    if (this.closed || !c.open || c.attempts >= this.opts.maxMessages) return this.retire(c, true);
    const w = this.waiters[0];
    if (w && !w.fresh) {
      this.waiters.shift();
      return w.give(c);
    }
    // A waiter that needs a new connection gets this one's slot (retire hands it over).
    if (w) return this.retire(c, true);
    c.idleTimer = setTimeout(() => this.retire(c, true), this.opts.idleMs);
    c.idleTimer.unref();
    this.idle.push(c);
  }

  /** A busy connection's failure reaches its send through the callback; an idle one just leaves. */
  private dropIfIdle(c: Connection): void {
    if (this.idle.includes(c)) this.retire(c, false);
  }

  /** Takes the connection out of the pool, closes it and frees its slot: the first waiter gets a new connection in it. */
  private retire(c: Connection, quit: boolean): void {
    if (c.retired) return;
    c.retired = true;
    clearTimeout(c.idleTimer);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.count -= 1;
    if (quit && c.open) c.smtp.quit();
    else c.smtp.close();
    c.open = false;
    const w = this.closed ? undefined : this.waiters.shift();
    if (w) w.give(this.connect());
  }
}

// A real SMTP server for dev and tests (smtp-server): STARTTLS or implicit TLS on a
// self-signed certificate, AUTH PLAIN/LOGIN, scripted replies by recipient, every
// accepted message kept raw and parsed. Optionally it then plays the events provider
// (SendGrid or SES via SNS) and posts signed delivery events to a webhook URL.
import type { KeyObject } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { selfSignedCertificate, type SelfSigned } from './certs';
import { sendgridEvent, signedSendGridPost } from './sendgrid';
import { sesBounce, sesDelivery, snsHeaders, snsNotification, type SesMailFacts, type SnsSigner } from './sns';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  parsed: ParsedMail;
  /** The session ran over TLS (STARTTLS or implicit) when the message arrived. */
  secure: boolean;
  /** The AUTH user, when the client logged in. */
  user?: string;
  at: number;
}

export interface RcptAttempt {
  to: string;
  code: number;
  at: number;
}

export type EventsTarget = { provider: 'sendgrid'; webhookUrl: string; privateKey: KeyObject } | { provider: 'ses'; webhookUrl: string; signer: SnsSigner };

export interface EventPost {
  provider: 'sendgrid' | 'ses';
  kinds: string[];
  httpStatus: number;
}

export interface SmtpSinkOptions {
  port?: number;
  host?: string;
  /** Accounts allowed to log in; with none, AUTH is optional. */
  users?: Record<string, string>;
  /** Implicit TLS from the first byte (SMTPS) instead of STARTTLS. */
  secure?: boolean;
  /** Do not offer STARTTLS (a plaintext-only server, to test require_tls). */
  hideStartTls?: boolean;
  tls?: SelfSigned;
  events?: EventsTarget;
  /** Gap before provider events are posted (default 50 ms). */
  eventDelayMs?: number;
  log?: (line: string) => void;
}

export interface SmtpSink {
  host: string;
  port: number;
  tls: SelfSigned;
  received: ReceivedMail[];
  rcptAttempts: RcptAttempt[];
  /** Failed logins, by username. */
  authFailures: string[];
  eventPosts: EventPost[];
  /** TCP connections accepted so far (pooling keeps this low). */
  readonly connections: number;
  /** SMTP sessions open now (the server has not seen them close). */
  readonly openConnections: number;
  /** Cuts every open connection without a word, as a restarted server or a NAT timeout does. */
  dropConnections(): void;
  /** Messages received for one recipient. */
  receivedFor(to: string): ReceivedMail[];
  setEvents(target: EventsTarget | undefined): void;
  close(): Promise<void>;
}

type Script = { rcpt?: [number, string]; data?: [number, string]; onlyFirst?: boolean; events?: 'bounce' | 'open' | 'none' };

/** Scripted behaviour by the recipient's local-part prefix; see sandbox/README.md. */
const SCRIPTS: ReadonlyArray<[RegExp, Script]> = [
  [/^reject-550/, { rcpt: [550, '5.1.1 <{to}>: Recipient address rejected: Mailbox unavailable'] }],
  [/^reject-553/, { rcpt: [553, '5.1.3 <{to}>: Mailbox name not allowed'] }],
  [/^reject-554/, { data: [554, '5.7.1 Message rejected as spam'] }],
  [/^defer-451/, { rcpt: [451, '4.3.0 Temporary local problem, try again later'], onlyFirst: true }],
  [/^throttle-421/, { rcpt: [421, '4.7.0 Too many messages, slow down'], onlyFirst: true }],
  [/^stale-421/, { rcpt: [421, '4.4.2 Idle timeout, closing connection'], onlyFirst: true }],
  [/^bounce/, { events: 'bounce' }],
  [/^open/, { events: 'open' }],
  [/^silent/, { events: 'none' }],
];

function scriptFor(address: string): Script {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  return SCRIPTS.find(([re]) => re.test(local))?.[1] ?? {};
}

function smtpError(code: number, text: string, to: string): Error {
  const err = new Error(text.replace('{to}', to)) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const tls = opts.tls ?? selfSignedCertificate();
  const log = opts.log ?? (() => undefined);
  const received: ReceivedMail[] = [];
  const rcptAttempts: RcptAttempt[] = [];
  const authFailures: string[] = [];
  const eventPosts: EventPost[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  let sessions = 0;
  let events = opts.events;
  const users = opts.users;

  const server = new SMTPServer({
    secure: opts.secure ?? false,
    ...(opts.hideStartTls ? { hideSTARTTLS: true, disabledCommands: ['STARTTLS'] } : {}),
    key: tls.key,
    cert: tls.cert,
    name: 'smtp.sandbox.test',
    banner: 'turumba sandbox ESMTP',
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !users,
    // Like a real submission server: no credentials over plaintext.
    allowInsecureAuth: false,
    size: 10 * 1024 * 1024,
    closeTimeout: 200,
    logger: false,
    onConnect(_session, cb) {
      connections += 1;
      sessions += 1;
      cb();
    },
    onClose() {
      sessions -= 1;
    },
    onAuth(auth, _session, cb) {
      if (users && auth.username && users[auth.username] === auth.password) return cb(null, { user: auth.username });
      authFailures.push(auth.username ?? '');
      cb(smtpError(535, '5.7.8 Authentication credentials invalid', ''));
    },
    onRcptTo(address: SMTPServerAddress, _session, cb) {
      const to = address.address.toLowerCase();
      const { rcpt, onlyFirst } = scriptFor(to);
      const earlier = rcptAttempts.filter((a) => a.to === to).length;
      const refuse = rcpt && (!onlyFirst || earlier === 0);
      rcptAttempts.push({ to, code: refuse ? rcpt[0] : 250, at: Date.now() });
      if (refuse) {
        log(`smtp RCPT ${to} → ${rcpt[0]}`);
        return cb(smtpError(rcpt[0], rcpt[1], to));
      }
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        const data = to.map(scriptFor).find((s) => s.data)?.data;
        if (data) return cb(smtpError(data[0], data[1], to[0] ?? ''));
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            const mail: ReceivedMail = {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to,
              raw,
              parsed,
              secure: session.secure,
              user: typeof session.user === 'string' ? session.user : undefined,
              at: Date.now(),
            };
            received.push(mail);
            log(`smtp accepted ${parsed.messageId ?? '(no Message-ID)'} for ${to.join(', ')}`);
            cb(null, 'Ok: queued');
            scheduleEvents(mail);
          })
          .catch((err: Error) => cb(smtpError(451, `4.3.0 cannot parse message: ${err.message}`, '')));
      });
    },
  });
  server.on('error', (err) => log(`smtp server error: ${err.message}`));

  const scheduleEvents = (mail: ReceivedMail): void => {
    const target = events;
    const to = mail.to[0];
    if (!target || !to) return;
    const script = scriptFor(to);
    if (script.events === 'none') return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void postEvents(target, mail, to, script.events).catch((err: Error) => log(`event post failed: ${err.message}`));
    }, opts.eventDelayMs ?? 50);
    timers.add(timer);
  };

  const postEvents = async (target: EventsTarget, mail: ReceivedMail, to: string, outcome: Script['events']): Promise<void> => {
    const messageIdHeader = mail.parsed.messageId ?? '';
    const headerText = (name: string) => {
      const v = mail.parsed.headers.get(name);
      return typeof v === 'string' ? v : undefined;
    };
    let body: string;
    let headers: Record<string, string>;
    let kinds: string[];
    if (target.provider === 'sendgrid') {
      const smtpApi = headerText('x-smtpapi');
      const uniqueArgs = smtpApi ? ((JSON.parse(smtpApi) as { unique_args?: Record<string, string> }).unique_args ?? {}) : {};
      const facts = { email: to, smtpId: messageIdHeader, uniqueArgs };
      kinds = outcome === 'bounce' ? ['processed', 'bounce'] : outcome === 'open' ? ['processed', 'delivered', 'open'] : ['processed', 'delivered'];
      const list = kinds.map((k) =>
        sendgridEvent(
          k,
          facts,
          k === 'bounce'
            ? { reason: '550 5.1.1 The email account that you tried to reach does not exist', status: '5.1.1', type: 'bounce' }
            : k === 'open'
              ? { useragent: 'Mozilla/5.0', ip: '192.0.2.1' }
              : {},
        ),
      );
      ({ body, headers } = signedSendGridPost(target.privateKey, list));
    } else {
      const facts: SesMailFacts = {
        messageIdHeader,
        from: mail.from,
        to,
        subject: mail.parsed.subject ?? '',
        headers: Object.fromEntries(['x-turumba-message-id'].flatMap((h) => (headerText(h) ? [[h, headerText(h) ?? '']] : []))),
      };
      kinds = [outcome === 'bounce' ? 'Bounce' : 'Delivery'];
      const envelope = snsNotification(target.signer, outcome === 'bounce' ? sesBounce(facts) : sesDelivery(facts));
      body = JSON.stringify(envelope);
      headers = snsHeaders(envelope);
    }
    const res = await fetch(target.webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) });
    eventPosts.push({ provider: target.provider, kinds, httpStatus: res.status });
    log(`${target.provider} events ${kinds.join(',')} → ${res.status}`);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.server.address() as AddressInfo;
  const sockets = new Set<Socket>();
  // smtp-server takes the listeners off a socket it upgrades with STARTTLS, so its 'close' is not
  // seen here: closed sockets are pruned as new ones arrive.
  server.server.on('connection', (socket: Socket) => {
    for (const s of sockets) if (s.destroyed) sockets.delete(s);
    sockets.add(socket);
  });

  return {
    host: opts.host ?? '127.0.0.1',
    port: address.port,
    tls,
    received,
    rcptAttempts,
    authFailures,
    eventPosts,
    get connections() {
      return connections;
    },
    get openConnections() {
      return sessions;
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    receivedFor: (to) => received.filter((m) => m.to.includes(to.toLowerCase())),
    setEvents(target) {
      events = target;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
      }),
  };
}

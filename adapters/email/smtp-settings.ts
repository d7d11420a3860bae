import { createHash } from 'node:crypto';
import { boundedTimeout } from '../egress';
import type { Credentials } from '../types';
import { domainOf, invalidEmailAddress } from './address';

export type EventsProvider = 'ses' | 'sendgrid';

/** A channel's SMTP account, read and checked once per call. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (SMTPS, usually port 465); otherwise STARTTLS when offered. */
  secure: boolean;
  /** Refuse to go on in plaintext when STARTTLS is not offered or fails. */
  requireTls: boolean;
  username?: string;
  password?: string;
  fromAddress: string;
  fromName?: string;
  replyTo?: string;
  rejectUnauthorized: boolean;
  timeoutMs: number;
  messageIdDomain: string;
  eventsProvider?: EventsProvider;
  sesConfigurationSet?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** The settings, or a message naming what is wrong (never a secret's value). */
export function readSmtpSettings(c: Credentials): SmtpSettings | string {
  const missing = ['host', 'port', 'from_address'].filter((k) => !c[k]);
  if (missing.length > 0) return `missing email credentials: ${missing.join(', ')}`;
  const port = Number(c.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'port must be an integer from 1 to 65535';
  const fromAddress = c.from_address ?? '';
  if (invalidEmailAddress(fromAddress)) return 'from_address is not a valid email address';
  if (c.reply_to && invalidEmailAddress(c.reply_to)) return 'reply_to is not a valid email address';
  if (Boolean(c.username) !== Boolean(c.password)) return 'username and password go together';
  const events = c.events_provider || undefined;
  if (events !== undefined && events !== 'ses' && events !== 'sendgrid') return "events_provider must be 'ses' or 'sendgrid'";
  return {
    host: c.host ?? '',
    port,
    // Port 465 is SMTPS by convention (RFC 8314); anything else starts in plaintext unless told.
    secure: c.secure === undefined || c.secure === '' ? port === 465 : c.secure === 'true',
    requireTls: c.require_tls === 'true',
    username: c.username || undefined,
    password: c.password || undefined,
    fromAddress,
    fromName: c.from_name || undefined,
    replyTo: c.reply_to || undefined,
    rejectUnauthorized: c.tls_reject_unauthorized !== 'false',
    timeoutMs: boundedTimeout(c.timeout_ms, DEFAULT_TIMEOUT_MS),
    messageIdDomain: (c.message_id_domain || domainOf(fromAddress)).toLowerCase(),
    eventsProvider: events,
    sesConfigurationSet: c.ses_configuration_set || undefined,
  };
}

/** Identifies one SMTP account + connection policy without keeping the password readable in a map key. */
export function connectionKey(s: SmtpSettings): string {
  const parts = [s.host, s.port, s.secure, s.requireTls, s.username ?? '', s.password ?? '', s.rejectUnauthorized, s.timeoutMs];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

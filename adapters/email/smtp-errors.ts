import { PermanentSendError, RateLimitedError, SendError, TransientSendError } from '../types';

/**
 * How long to wait after a 4xx that names a rate ("454 Throttling failure: Maximum
 * sending rate exceeded" from SES, "421 4.7.0 Too many connections", "450 4.2.1 ...
 * receiving mail at a rate ..."). SMTP has no Retry-After; half a minute clears a
 * per-second sending rate and a busy connection slot without stalling a message long.
 */
export const SMTP_RATE_LIMIT_RETRY_MS = 30_000;

/** Words of a 4xx reply that asks the client to slow down rather than to come back later. */
export const RATE_WORDS = /\brate\b|too many|throttl/i;

/** Connection-level failures: the message may not have reached the server, and a new connection may work. */
const TRANSPORT_CODES: Readonly<Record<string, string>> = {
  ECONNECTION: 'smtp_connection',
  ETIMEDOUT: 'smtp_timeout',
  ESOCKET: 'smtp_socket',
  EDNS: 'smtp_dns',
  EPROXY: 'smtp_proxy',
  EPROTOCOL: 'smtp_protocol',
  EABORT: 'smtp_aborted',
  EMAXLIMIT: 'smtp_connection',
};

/** Certificate problems: the same server will present the same certificate on every retry. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)|HOSTNAME/;

export interface SmtpErrorLike {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message: string;
}

function asSmtpError(err: unknown): SmtpErrorLike | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    code: str(e.code),
    originalCode: str(e.originalCode),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    response: str(e.response),
    command: str(e.command),
    message: err.message,
  };
}

/** Translates anything nodemailer threw into our retry classes; the code names the SMTP reply. */
export function toSendError(err: unknown): SendError {
  if (err instanceof SendError) return err;
  const e = asSmtpError(err);
  if (!e) return new TransientSendError(`smtp client error: ${String(err)}`, 'smtp_error', { cause: err });
  const reply = e.responseCode;
  const where = e.command ? ` at ${e.command}` : '';
  const detail = `smtp${where}: ${e.response ?? e.message}`;

  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
    // 454 4.7.0 "Temporary authentication failure" is the server's trouble, not a wrong password.
    if (reply !== undefined && reply >= 400 && reply < 500) return new TransientSendError(detail, `smtp_${reply}`, { cause: err });
    return new PermanentSendError(`smtp authentication failed${where}${reply ? ` (${reply})` : ''}`, 'smtp_auth_failed', { cause: err });
  }
  // RFC 5321 §4.2.1: 5yz is a permanent negative reply; 503 (bad sequence) is a session hiccup.
  if (reply !== undefined && reply >= 500 && reply < 600 && reply !== 503) {
    return new PermanentSendError(detail, `smtp_${reply}`, { cause: err });
  }
  if (reply !== undefined && reply >= 400 && reply < 600) {
    if (RATE_WORDS.test(e.response ?? '')) return new RateLimitedError(detail, `smtp_${reply}`, SMTP_RATE_LIMIT_RETRY_MS, { cause: err });
    return new TransientSendError(detail, `smtp_${reply}`, { cause: err });
  }
  // The handshake's verdict arrives as ESOCKET or ETLS with OpenSSL's reason as originalCode.
  if (e.originalCode && CERTIFICATE_ERROR.test(e.originalCode)) {
    return new PermanentSendError(`smtp TLS certificate rejected (${e.originalCode}): ${e.message}`, 'smtp_tls_certificate', { cause: err });
  }
  if (e.code === 'ETLS') return new TransientSendError(`smtp TLS failed: ${e.message}`, 'smtp_tls', { cause: err });
  const transport = e.code ? TRANSPORT_CODES[e.code] : undefined;
  if (transport) {
    const system = e.originalCode ? ` (${e.originalCode})` : '';
    return new TransientSendError(`${detail}${system}`, transport, { cause: err });
  }
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.code === 'ECONFIG' || e.code === 'EMAXRECIPIENTS') {
    return new PermanentSendError(detail, 'smtp_invalid_message', { cause: err });
  }
  return new TransientSendError(detail, 'smtp_error', { cause: err });
}

import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'credentials',
  '*.credentials',
  'api_key',
  '*.api_key',
  'api_secret',
  '*.api_secret',
  'auth_token',
  '*.auth_token',
  'webhook_secret',
  '*.webhook_secret',
  'password',
  '*.password',
  'headers.authorization',
  'req.headers.authorization',
  '*.headers.authorization',
  'headers["x-twilio-signature"]',
  'req.headers["x-twilio-signature"]',
];

export function createLogger(opts: { level?: string; name: string; destination?: pino.DestinationStream }): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (process.stdout.isTTY && process.env.NODE_ENV !== 'production') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}

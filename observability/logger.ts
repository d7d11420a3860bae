import pino, { type Logger } from 'pino';
import { currentTraceId } from './trace-context';

export type { Logger };

/** Credential field names of every adapter, plus our own secrets. */
const SECRET_KEYS = [
  'credentials',
  'api_key',
  'api_secret',
  'auth_token',
  'access_token',
  'page_access_token',
  'app_secret',
  'webhook_secret',
  'password',
  'pass',
  'secret',
  'token',
  'private_key',
  'privateKey',
  'authorization',
];
const SECRET_HEADERS = ['authorization', 'cookie', 'x-twilio-signature', 'x-hub-signature', 'x-hub-signature-256', 'x-twilio-email-event-webhook-signature'];

/** Paths whose values never reach a log line: at the top, one level down, and in (req.)headers. */
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`]),
  ...SECRET_HEADERS.flatMap((h) => ['', 'req.', '*.'].map((prefix) => `${prefix}headers["${h}"]`)),
];

/**
 * Adds the trace id of the activity being run (trace-worker.ts) to every line written
 * inside it, unless the line or the child logger already carries one.
 */
function traceMixin(_obj: object, _level: number, logger: Logger): object {
  const traceId = currentTraceId();
  if (!traceId) return {};
  // The serialized child bindings: a substring test, rather than bindings()' JSON.parse on every line.
  const bound = (logger as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym] ?? '';
  return bound.includes('"trace_id":') ? {} : { trace_id: traceId };
}

/** `pretty` (default true): pretty-printed when stdout is a terminal; entry points pass config.logPretty. */
export function createLogger(opts: { level?: string; name: string; destination?: pino.DestinationStream; pretty?: boolean }): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin: traceMixin,
    hooks: {
      // Libraries log bare strings (fastify's "Server listening at …"): they get an event name too.
      logMethod(args, method) {
        if (typeof args[0] === 'string') {
          const [msg, ...rest] = args;
          method.apply(this, [{ event: 'library_log' }, msg, ...rest]);
          return;
        }
        method.apply(this, args);
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty !== false && process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}

import { isIP } from 'node:net';
import { parseAllowList, type AllowEntry } from '../adapters/egress';
import { CHANNEL_TYPES, type ChannelType } from '../lifecycle';
import type { BatchSettings, DeliveryTimeoutAction } from '../workflows/definitions';

// The one place that reads process.env. Everything else receives a typed Config.

export interface DeliverySettings {
  /** How long a message workflow waits for receipts after the send. */
  waitSeconds: number;
  /** At the end of the wait: keep the status (late receipts still apply) or mark it undelivered. */
  onTimeout: DeliveryTimeoutAction;
}

/**
 * Defaults per channel type. Carrier receipts (SMS, SMPP) can take a day when a
 * handset is off; email bounces can come after 72 h of deferrals; Meta reports within
 * minutes but `read` may come much later, and that is applied after the workflow ends.
 */
export const DEFAULT_DELIVERY: Record<ChannelType, DeliverySettings> = {
  sms: { waitSeconds: 86_400, onTimeout: 'keep' },
  smpp: { waitSeconds: 86_400, onTimeout: 'keep' },
  whatsapp: { waitSeconds: 86_400, onTimeout: 'keep' },
  messenger: { waitSeconds: 86_400, onTimeout: 'keep' },
  email: { waitSeconds: 259_200, onTimeout: 'keep' },
};

export interface Config {
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  /** TLS / API key for Temporal Cloud or a TLS cluster (same names as the Temporal CLI's). */
  temporalTls: {
    enabled: boolean;
    apiKey: string | undefined;
    clientCertPath: string | undefined;
    clientKeyPath: string | undefined;
    serverCaCertPath: string | undefined;
    serverName: string | undefined;
  };
  apiHost: string;
  apiPort: number;
  /** Base URL providers use to reach our webhooks (e.g. https://dispatch.example.com). */
  publicBaseUrl: string;
  /** The Temporal Web UI's base URL, for `links.temporal_ui` (unset: the links are null). */
  temporalUiUrl: string | undefined;
  workerMetricsPort: number;
  /** The API's /metrics listens here, never on the public API port. */
  apiMetricsHost: string;
  apiMetricsPort: number;
  /** Longest time to receive a whole request (headers and body); a client that stalls is cut off. */
  apiRequestTimeoutMs: number;
  /** Longest silence on a connection before it is closed. */
  apiConnectionTimeoutMs: number;
  /** Fastify's trustProxy: whom to believe about X-Forwarded-For (false: the socket's address is the client). */
  trustProxy: boolean | number | string[];
  /** Days kept before the daily record-expiry run deletes them. */
  retention: RetentionSettings;
  logLevel: string;
  /** Pretty-printed logs on a terminal; off with NODE_ENV=production. */
  logPretty: boolean;
  /** Per channel type: how long a message workflow waits for receipts, and what happens then. */
  delivery: Record<ChannelType, DeliverySettings>;
  sendMaxAttempts: number;
  sendInitialIntervalMs: number;
  sendMaxIntervalMs: number;
  /** Per worker and channel type: sends in flight at once (local activity and workflow task slots). */
  sendsPerChannelType: number;
  /** A batched group's pages: recipients per batch, batches in flight, provider calls in flight per batch. */
  groupBatch: BatchSettings;
  /** Workflow bundle built by `npm run build`; when unset the worker bundles from source. */
  workflowBundlePath: string | undefined;
  temporalCliPath: string | undefined;
  /** Months of messages kept online; older monthly partitions are exported, verified and dropped. */
  partitionRetentionMonths: number;
  /** Where expired partitions are archived (NDJSON.gz + manifest); unset: nothing is ever dropped. */
  archiveDir: string | undefined;
  /** AES-256-GCM key (base64 of 32 bytes) that encrypts channel credentials at rest. */
  credentialsKey: string | undefined;
  /** Older keys, comma-separated, still accepted for decryption during a rotation. */
  credentialsKeyPrevious: string;
  /** After a webhook secret rotation, how long the previous secret still passes (when the request names no overlap). */
  webhookSecretOverlapSeconds: number;
  /** EGRESS_ALLOW: hosts and CIDR ranges adapters may reach although private, loopback or link-local. */
  egressAllow: AllowEntry[];
  /** ALLOW_SANDBOX_CHANNELS: whether tenants may create sandbox channels (webhook signatures off). */
  allowSandboxChannels: boolean;
  /** Requests per minute one API key may make to /v1 (per API process); 0: no limit. */
  apiRateLimitPerMinute: number;
  /** Per-account quota defaults (an account's own columns override them); 0: unlimited. */
  quotas: { messagesPerDay: number; recipientsPerGroup: number; channelsPerAccount: number };
}

/** The longest overlap a webhook secret rotation may keep the previous secret for. */
export const MAX_WEBHOOK_ROTATION_OVERLAP_SECONDS = 30 * 86_400;
export interface RetentionSettings {
  idempotencyKeysDays: number;
  pendingStatusUpdatesDays: number;
  inboundDedupDays: number;
}

export const DEFAULT_RETENTION: RetentionSettings = { idempotencyKeysDays: 7, pendingStatusUpdatesDays: 7, inboundDedupDays: 7 };

// Names proxy-addr (Fastify's trustProxy) accepts besides addresses and CIDRs.
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback?: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const url = (name: string, fallback: string | undefined, protocols: string[]): string | undefined => {
    const raw = str(name, fallback);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) problems.push(`${name} must use ${protocols.join(' or ')} (got "${u.protocol}")`);
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };

  const apiPort = int('API_PORT', 3000, 1, 65535);
  const databaseUrl = url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']);
  const temporalAddress = str('TEMPORAL_ADDRESS');
  if (temporalAddress !== undefined && !/^[\w.-]+:\d+$/.test(temporalAddress)) {
    problems.push(`TEMPORAL_ADDRESS must be host:port (got "${temporalAddress}")`);
  }
  const logLevel = str('LOG_LEVEL', 'info') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`);
  }
  const publicBaseUrl = (url('PUBLIC_BASE_URL', `http://127.0.0.1:${apiPort}`, ['http:', 'https:']) ?? '').replace(/\/+$/, '');

  const key = (name: string): string | undefined => {
    const raw = str(name);
    if (raw !== undefined && raw.split(',').some((k) => Buffer.from(k.trim(), 'base64').length !== 32)) {
      problems.push(`${name} must be base64 of 32 random bytes (e.g. \`openssl rand -base64 32\`)`);
    }
    return raw;
  };

  const trustProxy = (): Config['trustProxy'] => {
    const raw = str('TRUST_PROXY', 'false') ?? 'false';
    if (raw === 'true' || raw === 'false') return raw === 'true';
    if (/^\d+$/.test(raw)) {
      if (Number(raw) >= 1 && Number(raw) <= 100) return Number(raw);
    } else {
      const entries = raw
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const valid = (e: string): boolean => {
        if (PROXY_RANGE_NAMES.includes(e)) return true;
        const [addr = '', bits, ...rest] = e.split('/');
        const family = isIP(addr);
        if (family === 0 || rest.length > 0) return false;
        return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
      };
      if (entries.length > 0 && entries.every(valid)) return entries;
    }
    problems.push(`TRUST_PROXY must be true, false, a hop count (1-100) or a comma-separated list of proxy addresses or CIDRs (got "${raw}")`);
    return false;
  };

  const temporalTls = (): Config['temporalTls'] => {
    const tls = str('TEMPORAL_TLS');
    if (tls !== undefined && !['true', 'false'].includes(tls)) problems.push(`TEMPORAL_TLS must be true or false (got "${tls}")`);
    const cert = str('TEMPORAL_TLS_CLIENT_CERT_PATH');
    const keyPath = str('TEMPORAL_TLS_CLIENT_KEY_PATH');
    if ((cert === undefined) !== (keyPath === undefined)) {
      problems.push('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together');
    }
    const apiKey = str('TEMPORAL_API_KEY');
    return {
      enabled: tls === 'true' || apiKey !== undefined || cert !== undefined,
      apiKey,
      clientCertPath: cert,
      clientKeyPath: keyPath,
      serverCaCertPath: str('TEMPORAL_TLS_SERVER_CA_CERT_PATH'),
      serverName: str('TEMPORAL_TLS_SERVER_NAME'),
    };
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if (raw !== 'true' && raw !== 'false') problems.push(`${name} must be true or false (got "${raw}")`);
    return raw === 'true';
  };
  const egressAllow = parseAllowList(str('EGRESS_ALLOW', '') ?? '');
  for (const p of egressAllow.problems) problems.push(`EGRESS_ALLOW: ${p}`);

  const config: Config = {
    databaseUrl,
    temporalAddress,
    temporalNamespace: str('TEMPORAL_NAMESPACE', 'default') ?? 'default',
    temporalTls: temporalTls(),
    apiHost: str('API_HOST', '0.0.0.0') ?? '0.0.0.0',
    apiPort,
    publicBaseUrl,
    temporalUiUrl: url('TEMPORAL_UI_URL', undefined, ['http:', 'https:'])?.replace(/\/+$/, ''),
    workerMetricsPort: int('WORKER_METRICS_PORT', 9464, 0, 65535),
    apiMetricsHost: str('API_METRICS_HOST', '127.0.0.1') ?? '127.0.0.1',
    apiMetricsPort: int('API_METRICS_PORT', 9465, 0, 65535),
    apiRequestTimeoutMs: int('API_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    apiConnectionTimeoutMs: int('API_CONNECTION_TIMEOUT_MS', 10_000, 100, 3_600_000),
    trustProxy: trustProxy(),
    retention: {
      idempotencyKeysDays: int('RETENTION_DAYS_IDEMPOTENCY', DEFAULT_RETENTION.idempotencyKeysDays, 1, 3650),
      pendingStatusUpdatesDays: int('RETENTION_DAYS_PENDING_STATUS_UPDATES', DEFAULT_RETENTION.pendingStatusUpdatesDays, 1, 3650),
      inboundDedupDays: int('RETENTION_DAYS_INBOUND_DEDUP', DEFAULT_RETENTION.inboundDedupDays, 1, 3650),
    },
    logLevel,
    logPretty: str('NODE_ENV') !== 'production',
    delivery: Object.fromEntries(
      CHANNEL_TYPES.map((t) => {
        const suffix = t.toUpperCase();
        const base = DEFAULT_DELIVERY[t];
        const wait = int(`DELIVERY_WAIT_SECONDS_${suffix}`, int('DELIVERY_WAIT_SECONDS', base.waitSeconds, 1, 30 * 86400), 1, 30 * 86400);
        const action = str(`DELIVERY_TIMEOUT_ACTION_${suffix}`, str('DELIVERY_TIMEOUT_ACTION', base.onTimeout));
        if (action !== 'keep' && action !== 'undelivered') {
          problems.push(`DELIVERY_TIMEOUT_ACTION${env[`DELIVERY_TIMEOUT_ACTION_${suffix}`] ? `_${suffix}` : ''} must be keep or undelivered (got "${action}")`);
        }
        return [t, { waitSeconds: wait, onTimeout: action === 'undelivered' ? 'undelivered' : 'keep' }];
      }),
    ) as Record<ChannelType, DeliverySettings>,
    sendMaxAttempts: int('SEND_MAX_ATTEMPTS', 8, 1, 100),
    sendInitialIntervalMs: int('SEND_INITIAL_INTERVAL_MS', 1000, 10, 3_600_000),
    sendMaxIntervalMs: int('SEND_MAX_INTERVAL_MS', 300_000, 10, 86_400_000),
    sendsPerChannelType: int('SENDS_PER_CHANNEL_TYPE', 200, 1, 10_000),
    groupBatch: {
      size: int('GROUP_BATCH_SIZE', 500, 1, 5_000),
      inFlight: int('GROUP_BATCHES_IN_FLIGHT', 3, 1, 20),
      concurrency: int('GROUP_BATCH_CONCURRENCY', 32, 1, 500),
    },
    workflowBundlePath: str('WORKFLOW_BUNDLE_PATH'),
    temporalCliPath: str('TEMPORAL_CLI_PATH'),
    partitionRetentionMonths: int('PARTITION_RETENTION_MONTHS', 12, 1, 1200),
    archiveDir: str('ARCHIVE_DIR'),
    credentialsKey: key('CREDENTIALS_KEY'),
    credentialsKeyPrevious: key('CREDENTIALS_KEY_PREVIOUS') ?? '',
    webhookSecretOverlapSeconds: int('WEBHOOK_ROTATION_OVERLAP_SECONDS', 86_400, 0, MAX_WEBHOOK_ROTATION_OVERLAP_SECONDS),
    egressAllow: egressAllow.entries,
    allowSandboxChannels: bool('ALLOW_SANDBOX_CHANNELS', false),
    apiRateLimitPerMinute: int('API_RATE_LIMIT_PER_MINUTE', 6000, 0, 10_000_000),
    quotas: {
      messagesPerDay: int('QUOTA_MESSAGES_PER_DAY', 1_000_000, 0, 2_000_000_000),
      recipientsPerGroup: int('QUOTA_RECIPIENTS_PER_GROUP', 100_000, 0, 2_000_000_000),
      channelsPerAccount: int('QUOTA_CHANNELS_PER_ACCOUNT', 100, 0, 1_000_000),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** For processes that cannot run without these (api, worker outside the dev stack). */
export function requireKeys<K extends keyof Config>(config: Config, keys: Array<[K, string]>): void {
  const missing = keys.filter(([k]) => config[k] === undefined).map(([, env]) => `${env} is required`);
  if (missing.length > 0) throw new ConfigError(missing);
}

/** Entry points call this: a bad value stops the process with the list of problems. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

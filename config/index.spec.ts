import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '.';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ apiPort: 3000, publicBaseUrl: 'http://127.0.0.1:3000', temporalNamespace: 'default' });
    expect(c.delivery.email).toEqual({ waitSeconds: 259_200, onTimeout: 'keep' });
    expect(c.databaseUrl).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ API_PORT: 'eighty', DATABASE_URL: 'mysql://x', TEMPORAL_ADDRESS: 'no-port', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const name of ['API_PORT', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'LOG_LEVEL']) expect(problems).toContain(name);
  });

  it('reads delivery settings per channel type over the global ones', () => {
    const c = loadConfig({ DELIVERY_WAIT_SECONDS: '120', DELIVERY_WAIT_SECONDS_SMS: '30', DELIVERY_TIMEOUT_ACTION_SMS: 'undelivered' });
    expect(c.delivery.sms).toEqual({ waitSeconds: 30, onTimeout: 'undelivered' });
    expect(c.delivery.whatsapp).toEqual({ waitSeconds: 120, onTimeout: 'keep' });
    expect(() => loadConfig({ DELIVERY_TIMEOUT_ACTION_EMAIL: 'explode' })).toThrow(/DELIVERY_TIMEOUT_ACTION_EMAIL/);
  });

  it('reads WEBHOOK_ROTATION_OVERLAP_SECONDS (default a day, at most 30 days)', () => {
    expect(loadConfig({}).webhookSecretOverlapSeconds).toBe(86_400);
    expect(loadConfig({ WEBHOOK_ROTATION_OVERLAP_SECONDS: '0' }).webhookSecretOverlapSeconds).toBe(0);
    expect(() => loadConfig({ WEBHOOK_ROTATION_OVERLAP_SECONDS: '2592001' })).toThrow(
      /WEBHOOK_ROTATION_OVERLAP_SECONDS must be an integer between 0 and 2592000/,
    );
    expect(() => loadConfig({ WEBHOOK_ROTATION_OVERLAP_SECONDS: '1d' })).toThrow(/WEBHOOK_ROTATION_OVERLAP_SECONDS/);
  });

  it('hardening defaults: request and connection timeouts, no trusted proxy, metrics on loopback port 9465, retention', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      apiRequestTimeoutMs: 30_000,
      apiConnectionTimeoutMs: 10_000,
      trustProxy: false,
      apiMetricsHost: '127.0.0.1',
      apiMetricsPort: 9465,
    });
    expect(c.retention).toEqual({ idempotencyKeysDays: 7, pendingStatusUpdatesDays: 7, inboundDedupDays: 7 });
    expect(() => loadConfig({ API_REQUEST_TIMEOUT_MS: '0' })).toThrow(/API_REQUEST_TIMEOUT_MS must be an integer between 100/);
    expect(() => loadConfig({ RETENTION_DAYS_IDEMPOTENCY: '0' })).toThrow(/RETENTION_DAYS_IDEMPOTENCY must be an integer between 1/);
  });

  it('reads TRUST_PROXY as Fastify does: true/false, a hop count, or proxy addresses and CIDRs', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    for (const bad of ['yes', '0', '10.0.0.0/33', 'proxy.example.com', '1.2.3.4/8/1']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY must be true, false, a hop count/);
    }
  });

  it('reads the per-key rate limit and the quota defaults; 0 turns one off', () => {
    expect(loadConfig({})).toMatchObject({
      apiRateLimitPerMinute: 6000,
      quotas: { messagesPerDay: 1_000_000, recipientsPerGroup: 100_000, channelsPerAccount: 100 },
    });
    const c = loadConfig({ API_RATE_LIMIT_PER_MINUTE: '0', QUOTA_MESSAGES_PER_DAY: '50', QUOTA_RECIPIENTS_PER_GROUP: '0', QUOTA_CHANNELS_PER_ACCOUNT: '7' });
    expect(c).toMatchObject({ apiRateLimitPerMinute: 0, quotas: { messagesPerDay: 50, recipientsPerGroup: 0, channelsPerAccount: 7 } });
    expect(() => loadConfig({ API_RATE_LIMIT_PER_MINUTE: '-1', QUOTA_MESSAGES_PER_DAY: 'lots' })).toThrow(
      /API_RATE_LIMIT_PER_MINUTE[\s\S]*QUOTA_MESSAGES_PER_DAY/,
    );
  });

  it('checks that CREDENTIALS_KEY is a 32-byte base64 key', () => {
    expect(() => loadConfig({ CREDENTIALS_KEY: 'c2hvcnQ=' })).toThrow(/CREDENTIALS_KEY must be base64 of 32/);
    expect(loadConfig({ CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64') }).credentialsKey).toBeDefined();
  });

  it('reads Temporal TLS settings; an API key implies TLS; a client cert needs its key', () => {
    expect(loadConfig({}).temporalTls.enabled).toBe(false);
    expect(loadConfig({ TEMPORAL_API_KEY: 'k' }).temporalTls).toMatchObject({ enabled: true, apiKey: 'k' });
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' })).toThrow(/TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS must be true or false/);
  });

  it('strips a trailing slash from PUBLIC_BASE_URL', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://dispatch.example.com/' }).publicBaseUrl).toBe('https://dispatch.example.com');
  });
});

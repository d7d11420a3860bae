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

  it('reads the per-key rate limit and the quota defaults; 0 turns one off', () => {
    expect(loadConfig({})).toMatchObject({
      apiRateLimitPerMinute: 6000,
      quotas: { messagesPerDay: 1_000_000, recipientsPerGroup: 100_000, channelsPerAccount: 100 },
    });
    const c = loadConfig({ API_RATE_LIMIT_PER_MINUTE: '0', QUOTA_MESSAGES_PER_DAY: '50', QUOTA_RECIPIENTS_PER_GROUP: '0', QUOTA_CHANNELS_PER_ACCOUNT: '7' });
    expect(c).toMatchObject({ apiRateLimitPerMinute: 0, quotas: { messagesPerDay: 50, recipientsPerGroup: 0, channelsPerAccount: 7 } });
    expect(() => loadConfig({ API_RATE_LIMIT_PER_MINUTE: '-1', QUOTA_MESSAGES_PER_DAY: 'lots' })).toThrow(/API_RATE_LIMIT_PER_MINUTE[\s\S]*QUOTA_MESSAGES_PER_DAY/);
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

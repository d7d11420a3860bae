import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics';
import { RollingFailureRate } from './failure-rate';

describe('RollingFailureRate (5-minute window, 10-second buckets)', () => {
  const clock = (start = Date.UTC(2026, 0, 1)) => {
    let t = start;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it('is failures / attempts over the window; 429s are attempts, not failures', () => {
    const c = clock();
    const r = new RollingFailureRate(undefined, c.now);
    r.record('sms', 'ok');
    r.record('sms', 'permanent');
    r.record('sms', 'transient');
    r.record('sms', 'rate_limited');
    r.record('sms', 'error');
    expect(r.rate('sms')).toBe(3 / 5);
    expect(r.rate('email')).toBe(0);
  });

  it('forgets attempts older than the window, and keeps reporting a quiet key as 0', () => {
    const c = clock();
    const r = new RollingFailureRate(undefined, c.now);
    r.record('sms', 'permanent');
    c.advance(4 * 60_000);
    r.record('sms', 'ok');
    expect(r.rate('sms')).toBe(1 / 2);
    c.advance(60_000 + 10_000);
    expect(r.rate('sms')).toBe(0);
    c.advance(10 * 60_000);
    expect(r.rate('sms')).toBe(0);
    expect(r.keys()).toEqual(['sms']);
  });

  it('feeds turumba_dispatch_failure_rate and turumba_send_attempts_total on scrape', async () => {
    const c = clock();
    const metrics = createMetrics({ defaults: false, now: c.now });
    metrics.recordSendAttempt('whatsapp', 'ok');
    metrics.recordSendAttempt('whatsapp', 'transient');
    metrics.recordSendAttempt('whatsapp', 'transient');
    metrics.recordSendAttempt('whatsapp', 'ok');
    const text = await metrics.registry.metrics();
    expect(text).toContain('turumba_dispatch_failure_rate{channel_type="whatsapp"} 0.5');
    expect(text).toContain('turumba_send_attempts_total{channel_type="whatsapp",outcome="transient"} 2');
    c.advance(6 * 60_000);
    expect(await metrics.registry.metrics()).toContain('turumba_dispatch_failure_rate{channel_type="whatsapp"} 0\n');
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { runWithTraceId } from './trace-context';
import { TRACE_HEADER, traceIdOf, withTraceHeader } from './trace-header';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString('utf8'));
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ name: 'spec', destination }), lines, raw };
}

describe('logger', () => {
  it('redacts credentials, secrets and signature headers at the top, one level down and in headers', () => {
    const { logger, raw } = capture();
    logger.info({
      event: 'x',
      credentials: { auth_token: 'secret-1' },
      channel: { api_secret: 'secret-2', access_token: 'secret-3', app_secret: 'secret-4', password: 'secret-5', webhook_secret: 'secret-6' },
      page_access_token: 'secret-7',
      headers: { authorization: 'Bearer secret-8', 'x-twilio-signature': 'secret-9', 'x-hub-signature-256': 'sha256=secret-10' },
      req: { headers: { cookie: 'secret-11' } },
      kept: 'visible',
    });
    const line = raw.join('');
    for (let i = 1; i <= 11; i++) expect(line).not.toContain(`secret-${i}"`);
    expect(line).toContain('"kept":"visible"');
  });

  it('adds the trace id of the running activity to every line, once', () => {
    const { logger, lines, raw } = capture();
    logger.info({ event: 'outside' });
    runWithTraceId('trace-abc', () => {
      logger.info({ event: 'inside' });
      logger.child({ message_id: 'm1' }).info({ event: 'child' });
      logger.child({ trace_id: 'trace-abc' }).info({ event: 'bound' });
      logger.info({ event: 'explicit', trace_id: 'trace-other' });
    });
    expect(lines.map((l) => [l.event, l.trace_id])).toEqual([
      ['outside', undefined],
      ['inside', 'trace-abc'],
      ['child', 'trace-abc'],
      ['bound', 'trace-abc'],
      ['explicit', 'trace-other'],
    ]);
    for (const line of raw) expect(line.match(/"trace_id"/g)?.length ?? 0).toBeLessThanOrEqual(1);
  });
});

describe('trace header', () => {
  it('round-trips a trace id and never overwrites one already set', () => {
    const headers = withTraceHeader({}, 'abc123');
    expect(Object.keys(headers)).toEqual([TRACE_HEADER]);
    expect(traceIdOf(headers)).toBe('abc123');
    expect(traceIdOf(withTraceHeader(headers, 'other'))).toBe('abc123');
    expect(withTraceHeader({}, undefined)).toEqual({});
    expect(traceIdOf({})).toBeUndefined();
    expect(traceIdOf({ [TRACE_HEADER]: { metadata: {}, data: new Uint8Array([1, 2]) } })).toBeUndefined();
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJasminSimulator, type JasminSimulator } from '../../sandbox/jasmin/server';
import { eventually } from '../support/stack';
import { jasminAvailable } from './jasmin-harness';
import { CONNECTOR_ID, JASMIN_USER, startJasminRig, type JasminRig } from './jasmin-stack';
import { call, normalizeDlr, startDlrSink, type Answer, type DlrSeen, type DlrSink } from './wire-probe';

// sandbox/jasmin is our reading of Jasmin's HTTP API; here the same requests go to it and to the
// real Jasmin, and what each answers, and throws back as DLRs, must be the same.

const availability = await jasminAvailable();
if (!availability.ok) console.warn(`[tests/jasmin] skipped: ${availability.reason}`);

interface Gateway {
  url: string;
  cid: string;
  /** Destinations scripted alike on both sides. */
  numbers: { delivered: string; undelivered: string; refused: string; everyPart: string };
}

describe.skipIf(!availability.ok)('Jasmin HTTP API: the simulator answers like the real gateway', () => {
  let rig: JasminRig;
  let sim: JasminSimulator;
  let sink: DlrSink;
  let real: Gateway;
  let simulated: Gateway;
  const user = { username: JASMIN_USER.username, password: JASMIN_USER.password };

  beforeAll(async () => {
    [rig, sim, sink] = await Promise.all([
      // SMSC ids with a leading zero, which Jasmin strips when it keys and reports receipts.
      startJasminRig({ messageId: () => `0${randomBytes(7).toString('hex')}` }),
      startJasminSimulator({
        users: [user],
        dlrDelayMs: 20,
        dlrRetryDelayMs: 1000,
        connectors: [{ cid: CONNECTOR_ID, status: 'started', session: 'BOUND_TRX' }],
      }),
      startDlrSink(),
    ]);
    // The peer reports every part of a long message to 15550100021, as the simulator does for 447700900008.
    rig.smsc.setMode({ receiptPerPart: true });
    real = {
      url: rig.jasmin.httpUrl,
      cid: CONNECTOR_ID,
      numbers: { delivered: '15550100001', undelivered: '15550100002', refused: '15550100011', everyPart: '15550100021' },
    };
    simulated = {
      url: sim.url,
      cid: CONNECTOR_ID,
      numbers: { delivered: '447700900100', undelivered: '447700900001', refused: '447700900005', everyPart: '447700900008' },
    };
  });
  afterAll(async () => {
    await Promise.all([rig?.close(), sim?.close(), sink?.close()]);
  });

  const both = async <T>(probe: (g: Gateway) => Promise<T>): Promise<{ real: T; sim: T }> => ({ real: await probe(real), sim: await probe(simulated) });

  const send = (g: Gateway, args: Record<string, string>) => call(g.url, 'POST', '/send', { ...user, ...args });

  /** Sends with a DLR request to a fresh sink path and returns the DLRs that arrive there, normalized. */
  const dlrsFor = async (g: Gateway, args: Record<string, string>, expected: number): Promise<{ answer: Answer; dlrs: DlrSeen[] }> => {
    const path = `/dlr/${Math.random().toString(36).slice(2)}`;
    const answer = await send(g, { dlr: 'yes', 'dlr-url': `${sink.url}${path}`, ...args });
    const seen = await eventually(async () => {
      const calls = sink.calls.filter((c) => c.path === path);
      return calls.length >= expected ? calls : undefined;
    }, 20_000);
    // Anything late (a duplicate, a receipt for another part) would show up here.
    await new Promise((r) => setTimeout(r, 1500));
    const dlrs = sink.calls
      .filter((c) => c.path === path)
      .sort((a, b) => Number(a.fields.level) - Number(b.fields.level))
      .map(({ at: _at, ...d }) => normalizeDlr({ ...d, path: '<path>' }, g.cid));
    expect(dlrs.length).toBe(seen.length);
    return { answer, dlrs };
  };

  it('GET /ping', async () => {
    const r = await both((g) => call(g.url, 'GET', '/ping', {}));
    expect(r.real).toEqual({ status: 200, contentType: 'text/html', body: 'Jasmin/PONG' });
    // Known difference, reported: the simulator answers text/plain. Nothing reads /ping's type.
    expect({ ...r.sim, contentType: 'text/html' }).toEqual(r.real);
  });

  it.each([
    ['accepted', { to: 'DELIVERED', content: 'hello' }],
    ['a wrong password', { to: 'DELIVERED', content: 'hello', password: 'nope' }],
    ['no `to`', { content: 'hello' }],
    ['an unknown argument', { to: 'DELIVERED', content: 'hello', colour: 'blue' }],
    ['an invalid `to`', { to: '12ab', content: 'hello' }],
    ['content and hex-content together', { to: 'DELIVERED', content: 'hello', 'hex-content': '0068' }],
    ['no content at all', { to: 'DELIVERED' }],
    ['an invalid dlr-level', { to: 'DELIVERED', content: 'hello', dlr: 'yes', 'dlr-url': 'http://127.0.0.1:9/x', 'dlr-level': '4' }],
  ])('POST /send with %s', async (_name, args) => {
    const r = await both((g) => send(g, Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === 'DELIVERED' ? g.numbers.delivered : v]))));
    expect(r.sim).toEqual(r.real);
  });

  it('GET /balance, right and wrong password', async () => {
    const r = await both(async (g) => [await call(g.url, 'GET', '/balance', user), await call(g.url, 'GET', '/balance', { ...user, password: 'nope' })]);
    expect(r.real[0]).toMatchObject({ status: 200 });
    expect(r.real[1]).toMatchObject({ status: 403 });
    expect(r.sim).toEqual(r.real);
  });

  it('DLR level 3 by POST for a delivered message: the SMSC-level then the terminal receipt, field for field', async () => {
    const r = await both((g) => dlrsFor(g, { to: g.numbers.delivered, content: 'Your code is 123456', 'dlr-level': '3', 'dlr-method': 'POST' }, 2));
    expect(r.real.dlrs.map((d) => d.fields.message_status)).toEqual(['ESME_ROK', 'DELIVRD']);
    expect(r.real.dlrs[0]?.contentType).toBe('application/x-www-form-urlencoded');
    expect(r.sim).toEqual(r.real);
  });

  it('DLR level 2 by GET: the receipt rides in the query string', async () => {
    const r = await both((g) => dlrsFor(g, { to: g.numbers.delivered, content: 'by get', 'dlr-level': '2', 'dlr-method': 'GET' }, 1));
    expect(r.real.dlrs.map((d) => d.method)).toEqual(['GET']);
    expect(r.sim).toEqual(r.real);
  });

  it('an UNDELIV receipt at level 2', async () => {
    const r = await both((g) => dlrsFor(g, { to: g.numbers.undelivered, content: 'undelivered', 'dlr-level': '2' }, 1));
    expect(r.real.dlrs[0]?.fields).toMatchObject({ message_status: 'UNDELIV', err: '001' });
    expect(r.sim).toEqual(r.real);
  });

  it('an SMSC refusal (ESME_RINVDSTADR) at level 3: one SMSC-level DLR naming it', async () => {
    const r = await both((g) => dlrsFor(g, { to: g.numbers.refused, content: 'refused', 'dlr-level': '3' }, 1));
    expect(r.real.dlrs.map((d) => d.fields.message_status)).toEqual(['ESME_RINVDSTADR']);
    expect(r.sim).toEqual(r.real);
  });

  it('a 2-part message whose SMSC reports every part: one terminal DLR', async () => {
    const content = `${'Concatenated message body, part of a long text. '.repeat(6)}END`;
    const r = await both((g) => dlrsFor(g, { to: g.numbers.everyPart, content, 'dlr-level': '2' }, 1));
    expect(r.real.dlrs.map((d) => d.fields.message_status)).toEqual(['DELIVRD']);
    // `text` is whatever the SMSC echoed in the receipt: our peer echoes the start of the part it
    // reports (the last), the simulator the start of the message. Both are SMSC behaviours.
    const withoutText = (x: typeof r.real) => ({ ...x, dlrs: x.dlrs.map((d) => ({ ...d, fields: { ...d.fields, text: '<smsc text>' } })) });
    expect(r.real.dlrs[0]?.fields.text).toBe(content.slice(153, 173));
    expect(withoutText(r.sim)).toEqual(withoutText(r.real));
  });
});

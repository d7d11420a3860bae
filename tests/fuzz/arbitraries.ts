import fc from 'fast-check';

// Generic hostile HTTP material: strings, JSON values, bodies, headers and query
// strings. Route-specific shapes live in v1-requests.ts and webhook-requests.ts.

export interface FuzzRequest {
  /** Which generator made it (for the per-route tally and failure reports). */
  route: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** A 2xx may change state (a valid send, a signed receipt); a 4xx never may. */
  mutating: boolean;
}

/** Strings that broke parsers and databases before: NUL, lone surrogates, BOM, RTL override, injections. */
const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\uffff',
  '\ufeff',
  '\u202e',
  '𝕏',
  '👩‍👩‍👧‍👦',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '\r\n',
  '%00',
  '%',
  '../../etc/passwd',
  "'; DROP TABLE messages; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'NaN',
  '-1',
  '1e309',
  'null',
  'true',
  '[]',
  '{}',
  '2026-13-45T25:61:61Z',
  '0001-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-7fff-bfff-ffffffffffff',
];

export const hugeString = fc.tuple(fc.integer({ min: 300, max: 70_000 }), fc.constantFrom('x', 'é', '𝕏', '\u0000', '9', ' ')).map(([n, c]) => c.repeat(n));

/** The characters that databases and encoders choke on, spliced into ordinary text. */
const poisoned = fc
  .tuple(fc.string({ maxLength: 20 }), fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d', '\ufffe'), fc.nat())
  .map(([s, c, at]) => `${s.slice(0, at % (s.length + 1))}${c}${s.slice(at % (s.length + 1))}`);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: poisoned, weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 },
  { arbitrary: fc.constantFrom(...NASTY), weight: 4 },
  { arbitrary: hugeString, weight: 1 },
);

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as on the wire; encodeURIComponent throws). */
export function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => (/[\w.~-]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

/**
 * A JSON value nested `depth` deep, as an object chain or an array chain. Deeper values
 * overflow JSON.stringify's stack in the test itself; deepJsonText goes further as text.
 */
export const deepJson = fc.tuple(fc.integer({ min: 20, max: 1_000 }), fc.boolean()).map(([depth, arrays]) => {
  let v: unknown = arrays ? [] : {};
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
});

export const deepJsonText = fc
  .tuple(fc.integer({ min: 1_000, max: 200_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 6 },
  { arbitrary: hostileString, weight: 4 },
  { arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, [], {}), weight: 3 },
  { arbitrary: fc.array(hostileString, { maxLength: 4 }), weight: 1 },
  { arbitrary: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), weight: 1 },
  { arbitrary: deepJson, weight: 1 },
);

/** Serialised so `\ud800` stays a lone surrogate escape and NUL stays `\u0000` on the wire. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json;;',
  'application/json; charset=',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'text/plain',
  'text/plain; charset=UTF-8',
  'text/csv',
  'text/csv; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=----fuzz',
  'application/xml',
  'application/octet-stream',
  '*/*',
  ';',
  'json',
  'application/ json',
];

const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const latin1Text = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 });

/** undefined: leave the header out. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 8 },
  { arbitrary: headerText, weight: 1 },
);

export function authorization(keys: { valid: string; other: string }): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { arbitrary: fc.constant(`Bearer ${keys.valid}`), weight: 14 },
    { arbitrary: fc.constant(`Bearer ${keys.other}`), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        `bearer ${keys.valid}`,
        `Bearer  ${keys.valid}`,
        `Bearer ${keys.valid} extra`,
        `Bearer ${keys.valid.slice(0, -1)}`,
        `Bearer ${keys.valid}x`,
        `Basic ${Buffer.from(`user:${keys.valid}`).toString('base64')}`,
        `Bearer tdk_000000000000_${'a'.repeat(32)}`,
        `Bearer ${'A'.repeat(8_000)}`,
        `Bearer ${keys.valid.toUpperCase()}`,
      ),
      weight: 2,
    },
    { arbitrary: headerText.map((t) => `Bearer ${t}`), weight: 1 },
    { arbitrary: latin1Text, weight: 1 },
  );
}

const traceparent = fc.oneof(
  fc.constantFrom(
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01',
    '00-xyz-00f067aa0ba902b7-01',
    '-'.repeat(55),
  ),
  headerText,
);

/** Extra headers a hostile or sloppy client sends. */
export const noiseHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    traceparent,
    'x-trace-id': fc.oneof(headerText, fc.constant('a'.repeat(65)), fc.constant('trace-1234')),
    'idempotency-key': fc.oneof(headerText, latin1Text, fc.constant(''), fc.constant('k'.repeat(10_000))),
    accept: fc.constantFrom('*/*', 'application/json', 'text/html', 'application/xml;q=0.9', ''),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*'),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
    'x-forwarded-for': fc.constantFrom('1.2.3.4', '::1', 'garbage, , ,', '300.1.1.1'),
    'x-fuzz': latin1Text,
  },
  { requiredKeys: [] },
);

/** A query string: plausible keys with hostile values, repeated keys, brackets and broken escapes. */
export const queryString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  {
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(
              'status',
              'channel_id',
              'since',
              'until',
              'limit',
              'cursor',
              'message_id',
              'token',
              'hub.mode',
              'hub.challenge',
              'a[b]',
              '__proto__',
              'constructor[prototype]',
            ),
            hostileString,
          ),
          fc.oneof(hostileString, fc.constantFrom('-1', '0', '1001', '1e3', 'delivered', 'failed', 'subscribe', '2026-01-01T00:00:00Z')),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((pairs) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')),
    weight: 6,
  },
  { arbitrary: fc.constantFrom('%', '%zz', 'a=%E0%A4%A', '&&&', '==', 'a&a&a', '?', '#frag', 'a=1;b=2', 'x='.repeat(2_000)), weight: 2 },
);

/** Path segment material for `:id`: encoded so the router sees it as one segment. */
export function idSegment(real: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...real), weight: 6 },
    { arbitrary: fc.uuid().map((u) => u), weight: 2 },
    { arbitrary: fc.uuid({ version: 7 }), weight: 2 },
    { arbitrary: hostileString.map((s) => pct(s.slice(0, 200))), weight: 3 },
    { arbitrary: fc.constantFrom('%', '%zz', '%2F', '..', '.', '%00', 'a'.repeat(65), 'A'.repeat(5_000)), weight: 1 },
  );
}

/** Raw bytes: random, broken UTF-8, a BOM, or a body far over the limit. */
export const rawBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)), weight: 6 },
  {
    arbitrary: fc.constantFrom(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])),
    weight: 2,
  },
  { arbitrary: fc.integer({ min: 1_048_577, max: 1_200_000 }).map((n) => Buffer.alloc(n, 0x61)), weight: 1 },
);

/** A body: none, a JSON value, hostile text, raw bytes. */
export const anyBody: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: anyJson.map(jsonText), weight: 6 },
  { arbitrary: hostileString, weight: 2 },
  { arbitrary: rawBytes, weight: 2 },
  { arbitrary: deepJsonText, weight: 1 },
  { arbitrary: fc.constantFrom('{', '{"a":', '[1,2', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', 'to\n+15551234567\n'), weight: 1 },
);

type Mutation = readonly [number, 'delete' | 'set' | 'extra' | 'string', unknown, string];

const mutation: fc.Arbitrary<Mutation> = fc.tuple(
  fc.nat(),
  fc.constantFrom('delete', 'set', 'extra', 'string'),
  anyJson,
  fc.oneof(hostileString, fc.constantFrom('bogus', 'id', 'status', 'created_at', 'account_id')),
);

/**
 * A valid body with one to three mutations: a field removed, replaced by any JSON
 * value, an extra field, or a string field replaced by a hostile string (which may
 * still be valid: then the request may succeed, and is tracked as such).
 */
export function nearValid(template: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ops) => {
    const body = structuredClone(template);
    for (const op of ops) applyMutation(body, op);
    return body;
  });
}

function applyMutation(root: Record<string, unknown>, [pick, kind, value, key]: Mutation): void {
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        slots.push([node, i]);
        walk(v);
      });
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        slots.push([node as Record<string, unknown>, k]);
        walk(v);
      }
    }
  };
  walk(root);
  const slot = slots[pick % Math.max(1, slots.length)];
  if (!slot || kind === 'extra') {
    const parent = slot && !Array.isArray(slot[0]) ? slot[0] : root;
    parent[key] = value;
    return;
  }
  const [parent, at] = slot;
  if (kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(at), 1);
    else delete parent[at as string];
  } else if (kind === 'string') {
    (parent as Record<string | number, unknown>)[at] = typeof value === 'string' ? value : jsonText(value);
  } else {
    (parent as Record<string | number, unknown>)[at] = value;
  }
}

import fc from 'fast-check';
import {
  anyBody,
  anyJson,
  authorization,
  contentType,
  deepJsonText,
  hostileString,
  idSegment,
  jsonText,
  nearValid,
  noiseHeaders,
  pct,
  queryString,
  rawBytes,
  type FuzzRequest,
} from './arbitraries';

/** Real ids and keys the requests aim at, so they get past auth and lookups into the handlers. */
export interface Fixtures {
  apiKey: string;
  otherApiKey: string;
  accountIds: string[];
  /** Channel id per type (the first is the Twilio SMS channel). */
  channels: Record<'sms' | 'whatsapp' | 'messenger' | 'email' | 'smpp', string>;
  otherChannelId: string;
  /** A channel of the fuzz account no webhook property signs for: PATCH and rotation aim at it. */
  spareChannelId: string;
  /** Keys DELETE may revoke: a spare of the fuzz account, one of the other account. */
  spareApiKeyIds: string[];
  smsCredentials: Record<string, string>;
  deliveredMessageId: string;
  failedMessageId: string;
  otherMessageId: string;
  draftGroupId: string;
  doneGroupId: string;
  replayId: string;
}

interface RouteSpec {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** `:id` is replaced by a generated id segment. */
  path: string;
  ids?: (f: Fixtures) => string[];
  /** Bodies that get past the schema now and then; random bodies otherwise. */
  template?: (f: Fixtures) => Record<string, unknown>;
  /** Valid shape, hostile content: these pass validation and reach the database. */
  hostile?: (f: Fixtures) => fc.Arbitrary<Record<string, unknown>>;
  csv?: boolean;
  mutating: boolean;
}

const channelIds = (f: Fixtures) => [...Object.values(f.channels), f.otherChannelId];
const adminChannelIds = (f: Fixtures) => [f.spareChannelId, f.spareChannelId, f.otherChannelId];
const messageIds = (f: Fixtures) => [f.deliveredMessageId, f.deliveredMessageId, f.failedMessageId, f.otherMessageId];
const groupIds = (f: Fixtures) => [f.draftGroupId, f.doneGroupId];

/** Every /v1 route of api/routes/*.ts; the test checks this list against the app's routing table. */
export const V1_ROUTES: readonly RouteSpec[] = [
  {
    name: 'POST /v1/channels',
    method: 'POST',
    path: '/v1/channels',
    mutating: true,
    template: (f) => ({ channel_type: 'sms', provider: 'twilio', name: 'fuzz sms', credentials: f.smsCredentials, rate_limit_per_second: 10 }),
    hostile: (f) =>
      fc.record({
        channel_type: fc.constant('sms'),
        name: text(200),
        credentials: fc.dictionary(text(40), text(200), { maxKeys: 3 }).map((extra) => ({ ...extra, ...f.smsCredentials })),
      }),
  },
  { name: 'GET /v1/channels', method: 'GET', path: '/v1/channels', mutating: false },
  { name: 'GET /v1/channels/:id', method: 'GET', path: '/v1/channels/:id', ids: channelIds, mutating: false },
  { name: 'POST /v1/channels/:id/verify', method: 'POST', path: '/v1/channels/:id/verify', ids: channelIds, mutating: false },
  {
    name: 'PATCH /v1/channels/:id',
    method: 'PATCH',
    path: '/v1/channels/:id',
    ids: adminChannelIds,
    mutating: true,
    template: (f) => ({
      name: 'fuzz renamed',
      rate_limit_per_second: 5,
      daily_limit: 1000,
      enabled: true,
      credentials: { from: f.smsCredentials.from ?? '+15017122661' },
    }),
    hostile: () =>
      fc.record(
        {
          name: text(200),
          rate_limit_per_second: fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constant(null)),
          daily_limit: fc.oneof(fc.integer({ min: 1, max: 100_000_000 }), fc.constant(null)),
          enabled: fc.boolean(),
          credentials: fc.dictionary(
            fc.constantFrom('base_url', 'from', 'auth_token', 'timeout_ms', 'x'),
            fc.oneof(
              text(200),
              fc.constant(null),
              fc.constantFrom('http://10.0.0.1', 'http://169.254.169.254/latest', 'http://127.0.0.2:9', 'file:///etc/passwd'),
            ),
            { maxKeys: 2 },
          ),
        },
        { requiredKeys: [] },
      ),
  },
  {
    name: 'POST /v1/channels/:id/rotate-webhook-secret',
    method: 'POST',
    path: '/v1/channels/:id/rotate-webhook-secret',
    ids: adminChannelIds,
    mutating: true,
    template: () => ({ overlap_seconds: 60 }),
  },
  { name: 'GET /v1/api-keys', method: 'GET', path: '/v1/api-keys', mutating: false },
  {
    name: 'POST /v1/api-keys',
    method: 'POST',
    path: '/v1/api-keys',
    mutating: true,
    template: () => ({ name: 'fuzz key' }),
    hostile: () => fc.record({ name: text(200) }),
  },
  { name: 'DELETE /v1/api-keys/:id', method: 'DELETE', path: '/v1/api-keys/:id', ids: (f) => f.spareApiKeyIds, mutating: true },
  {
    name: 'POST /v1/messages',
    method: 'POST',
    path: '/v1/messages',
    mutating: true,
    template: (f) => ({ channel_id: f.channels.sms, to: '+15551230000', body: 'fuzz', metadata: { order: 42 } }),
    hostile: (f) =>
      fc.record(
        {
          channel_id: fc.constant(f.channels.sms),
          to: fc.constantFrom('+15551230010', '+4915112345678'),
          body: text(65_536),
          subject: text(998),
          metadata: fc.dictionary(text(40), anyJson, { maxKeys: 3 }),
        },
        { requiredKeys: ['channel_id', 'to', 'body'] },
      ),
  },
  { name: 'GET /v1/messages', method: 'GET', path: '/v1/messages', mutating: false },
  { name: 'GET /v1/messages/:id', method: 'GET', path: '/v1/messages/:id', ids: messageIds, mutating: false },
  { name: 'GET /v1/messages/:id/events', method: 'GET', path: '/v1/messages/:id/events', ids: messageIds, mutating: false },
  { name: 'POST /v1/messages/:id/replay', method: 'POST', path: '/v1/messages/:id/replay', ids: messageIds, mutating: true },
  {
    name: 'POST /v1/replays',
    method: 'POST',
    path: '/v1/replays',
    mutating: true,
    // A valid request replays nothing: no message of these accounts is that old.
    template: (f) => ({ status: 'failed', channel_id: f.channels.sms, from: '2001-01-01T00:00:00Z', to: '2001-01-02T00:00:00Z' }),
  },
  { name: 'GET /v1/replays/:id', method: 'GET', path: '/v1/replays/:id', ids: (f) => [f.replayId], mutating: false },
  {
    name: 'POST /v1/group-messages',
    method: 'POST',
    path: '/v1/group-messages',
    mutating: true,
    template: (f) => ({ channel_id: f.channels.sms, body: 'Hi {{name}}', recipients: [{ to: '+15551230001', variables: { name: 'Ada' } }], draft: true }),
    hostile: (f) =>
      fc.record({
        channel_id: fc.constant(f.channels.sms),
        body: text(65_536),
        draft: fc.constant(true),
        recipients: fc.array(
          fc.record({ to: fc.constant('+15551230011'), variables: fc.dictionary(fc.constantFrom('a', 'b_1', 'c.d'), text(1024), { maxKeys: 2 }) }),
          { maxLength: 3 },
        ),
        metadata: fc.dictionary(text(40), anyJson, { maxKeys: 2 }),
      }),
  },
  { name: 'GET /v1/group-messages/:id', method: 'GET', path: '/v1/group-messages/:id', ids: groupIds, mutating: false },
  {
    name: 'POST /v1/group-messages/:id/recipients',
    method: 'POST',
    path: '/v1/group-messages/:id/recipients',
    ids: groupIds,
    mutating: true,
    csv: true,
    template: () => ({ recipients: [{ to: '+15551230002', variables: { name: 'Grace' } }] }),
  },
  { name: 'POST /v1/group-messages/:id/start', method: 'POST', path: '/v1/group-messages/:id/start', ids: groupIds, mutating: true },
  { name: 'POST /v1/group-messages/:id/pause', method: 'POST', path: '/v1/group-messages/:id/pause', ids: groupIds, mutating: true },
  { name: 'POST /v1/group-messages/:id/resume', method: 'POST', path: '/v1/group-messages/:id/resume', ids: groupIds, mutating: true },
  { name: 'POST /v1/group-messages/:id/cancel', method: 'POST', path: '/v1/group-messages/:id/cancel', ids: groupIds, mutating: true },
];

const csvBody = fc.oneof(
  fc.constantFrom(
    'to,name\n+15551230003,Ada\n',
    'to\n',
    'to,name,name\n+1555,x\n',
    '"to\n+1',
    'to,name\r\n"+15551230004","a ""q"" b"\r\n',
    '\ufeffto\n+15551230005\n',
  ),
  fc.array(fc.tuple(hostileString, hostileString), { maxLength: 5 }).map((rows) => ['to,name', ...rows.map(([a, b]) => `${a},${b}`)].join('\n')),
  hostileString,
);

/** One /v1 request for `route`: near-valid or random body, hostile headers, query and id. */
/** A hostile string the schema still accepts (non-empty, at most `max` characters). */
const text = (max: number) => hostileString.filter((s) => s.length > 0 && s.length <= max);

export function v1Request(route: RouteSpec, f: Fixtures): fc.Arbitrary<FuzzRequest> {
  const json = fc.oneof(
    ...(route.template ? [{ arbitrary: nearValid(route.template(f)).map(jsonText), weight: 6 }] : []),
    ...(route.hostile ? [{ arbitrary: route.hostile(f).map(jsonText), weight: 2 }] : []),
    // A valid body whose free-form metadata nests far deeper than anyone needs.
    ...(route.hostile
      ? [
          {
            arbitrary: fc
              .tuple(route.hostile(f), deepJsonText)
              .map(([b, deep]) => `${jsonText({ ...b, metadata: undefined }).slice(0, -1)},"metadata":{"x":${deep}}}`),
            weight: 1,
          },
        ]
      : []),
    { arbitrary: anyBody, weight: 3 },
  );
  const body = route.csv
    ? fc.oneof({ arbitrary: json.map((b) => ({ b, csv: false })), weight: 3 }, { arbitrary: csvBody.map((b) => ({ b: b, csv: true })), weight: 1 })
    : json.map((b) => ({ b, csv: false }));
  return fc
    .record({
      id: route.ids ? idSegment(route.ids(f)) : fc.constant(''),
      query: queryString,
      body,
      contentType: fc.oneof({ arbitrary: fc.constant('application/json'), weight: 3 }, { arbitrary: contentType, weight: 2 }),
      auth: authorization({ valid: f.apiKey, other: f.otherApiKey }),
      noise: noiseHeaders,
      method: fc.oneof(
        { arbitrary: fc.constant(route.method), weight: 12 },
        { arbitrary: fc.constantFrom('PUT', 'PATCH', 'DELETE', route.method === 'GET' ? 'POST' : 'GET'), weight: 1 },
      ),
    })
    .map(({ id, query, body: { b, csv }, contentType: ct, auth, noise, method }) => {
      const headers: Record<string, string> = { ...noise };
      const type = csv ? 'text/csv' : ct;
      if (type !== undefined && b !== undefined) headers['content-type'] = type;
      if (auth !== undefined) headers.authorization = auth;
      const path = route.path.replace(':id', id);
      return {
        route: route.name,
        method: method,
        url: query ? `${path}?${query}` : path,
        headers,
        payload: method === 'GET' ? undefined : b,
        mutating: route.mutating && method === route.method,
      };
    });
}

/**
 * Markup built to make an HTML-to-text converter backtrack or go quadratic: one pattern
 * repeated up to the API's 1 MiB `html` limit, sometimes inside a valid document.
 */
const hostileMarkup = fc
  .record({
    unit: fc.constantFrom(
      '<a href="',
      '<a href=',
      ' ',
      ' \t',
      '<div>',
      '<b><i>',
      '<!--',
      '<',
      '&#',
      '&#x',
      '&amp',
      '<td>',
      '<table><tr><td>',
      '<img src="',
      '<p class="',
      '<![CDATA[',
      '<?',
      '<a ',
      '="',
    ),
    tail: fc.constantFrom('', '\n', '>', '"', '</a>', '-->'),
    size: fc.integer({ min: 1_000, max: 1_000_000 }),
    wrap: fc.boolean(),
  })
  .map(({ unit, tail, size, wrap }) => {
    const core = `${unit.repeat(Math.floor(size / unit.length))}${tail}`;
    return wrap ? `<html><body><p>Hello</p>${core}</body></html>`.slice(0, 1_048_576) : core;
  });

/** A message to an email channel whose HTML is hostile: accepted, and converted by the worker at send time. */
export function hostileHtmlMessage(f: Fixtures): fc.Arbitrary<FuzzRequest> {
  const bodyOf = (html: string) => JSON.stringify({ channel_id: f.channels.email, to: 'fuzz@turumba.test', subject: 'hostile', html });
  return hostileMarkup.map((markup) => {
    // Escapes (\t, ") can double the JSON: cut the markup until the body fits the API's 1 MiB limit.
    let html = markup;
    while (Buffer.byteLength(bodyOf(html)) > 1_040_000) html = html.slice(0, Math.floor(html.length * 0.9));
    return {
      route: 'POST /v1/messages (hostile email html)',
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${f.apiKey}`, 'content-type': 'application/json' },
      payload: bodyOf(html),
      mutating: true,
    };
  });
}

/** Requests to paths that match no route, or the API's own non-/v1 routes with junk. */
export function strayRequest(f: Fixtures): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      path: fc.oneof(
        fc.constantFrom(
          '/v1',
          '/v1/',
          '/v1/channels/',
          '/v1//messages',
          '/v1/messages/../channels',
          '/v2/messages',
          '/v1/accounts',
          '/health',
          '/ready',
          '/metrics',
          '/%2e%2e/',
        ),
        hostileString.map((s) => `/v1/${pct(s.slice(0, 100))}`),
      ),
      query: queryString,
      body: fc.oneof(anyBody, rawBytes),
      auth: authorization({ valid: f.apiKey, other: f.otherApiKey }),
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      ct: contentType,
    })
    .map(({ path, query, body, auth, method, ct }) => ({
      route: 'stray',
      method: method,
      url: query ? `${path}?${query}` : path,
      headers: { ...(auth ? { authorization: auth } : {}), ...(ct && body !== undefined ? { 'content-type': ct } : {}) },
      payload: method === 'GET' ? undefined : body,
      mutating: false,
    }));
}

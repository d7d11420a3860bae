import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_TYPES, type ChannelType } from '../../lifecycle';
import { checkContent } from '../../api/sendable';
import { placeholdersOf } from '../../dispatch/group-content';
import { startStack, type TestStack } from '../support/stack';

interface Example {
  summary?: string;
  value: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown>; examples?: Record<string, Example> }> };
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** `whatsapp_template` → whatsapp. */
const channelTypeOf = (name: string) => name.split('_')[0] as ChannelType;

describe('GET /docs/json, /docs/yaml, /docs', () => {
  let stack: TestStack;
  let doc: Doc;
  const op = (method: string, path: string): Operation => {
    const found = doc.paths[path]?.[method];
    if (!found) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
    return found;
  };
  const examplesOf = (method: string, path: string): Record<string, Example> => op(method, path).requestBody?.content['application/json']?.examples ?? {};

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false });
    const res = await stack.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json<Doc>();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves an OpenAPI 3 document that lists every /v1 and webhook route', () => {
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const expected = [
      'POST /v1/channels',
      'GET /v1/channels/{id}',
      'POST /v1/channels/{id}/verify',
      'PATCH /v1/channels/{id}',
      'POST /v1/channels/{id}/rotate-webhook-secret',
      'GET /v1/api-keys',
      'POST /v1/api-keys',
      'DELETE /v1/api-keys/{id}',
      'POST /v1/messages',
      'GET /v1/messages',
      'GET /v1/messages/{id}',
      'GET /v1/messages/{id}/events',
      'POST /v1/messages/{id}/replay',
      'POST /v1/replays',
      'GET /v1/replays/{id}',
      'POST /v1/group-messages',
      'GET /v1/group-messages/{id}',
      'POST /v1/group-messages/{id}/recipients',
      'POST /v1/group-messages/{id}/start',
      'POST /v1/group-messages/{id}/pause',
      'POST /v1/group-messages/{id}/resume',
      'POST /v1/group-messages/{id}/cancel',
      'POST /webhooks/{channel_type}/{channel_id}',
      'GET /webhooks/{channel_type}/{channel_id}',
      'GET /health',
      'GET /ready',
    ];
    for (const route of expected) expect(documented, route).toContain(route);
    // The reference's own pages are not operations of the API.
    expect([...documented].filter((r) => r.includes('/docs'))).toEqual([]);
    // Request bodies are documented from the validating schemas.
    expect(op('post', '/v1/messages').requestBody?.content['application/json']?.schema.required).toEqual(['channel_id', 'to']);
  });

  it('gives every operation a summary and a tag; probes and provider callbacks need no API key', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, o] of Object.entries(ops)) {
        expect(o.summary, `${method} ${path}`).toMatch(/\w/);
        expect(o.tags?.length, `${method} ${path}`).toBe(1);
        const open = path === '/health' || path === '/ready' || path.startsWith('/webhooks/');
        expect(o.security, `${method} ${path}`).toEqual(open ? [] : undefined);
      }
    }
  });

  it('has a named example body per channel type for sending, channels and groups', () => {
    const perType = {
      'POST /v1/messages': examplesOf('post', '/v1/messages'),
      'POST /v1/channels': examplesOf('post', '/v1/channels'),
      'POST /v1/group-messages': examplesOf('post', '/v1/group-messages'),
    };
    for (const [route, examples] of Object.entries(perType)) {
      expect(new Set(Object.keys(examples).map(channelTypeOf)), route).toEqual(new Set(CHANNEL_TYPES));
      for (const [name, e] of Object.entries(examples)) expect(e.summary, `${route} ${name}`).toMatch(/\w/);
    }
    expect(Object.keys(examplesOf('post', '/v1/messages'))).toEqual(expect.arrayContaining(['whatsapp_text', 'whatsapp_template', 'email']));
    expect(Object.keys(examplesOf('post', '/v1/messages').email?.value ?? {})).toEqual(expect.arrayContaining(['subject', 'html']));
    // The annotation does not leak into the schema shown.
    expect(JSON.stringify(doc)).not.toContain('x-examples');
  });

  it('every channel example creates a channel; every group example, on it, a draft group', async () => {
    const { apiKey } = await stack.newAccount('openapi examples');
    const channels = new Map<ChannelType, string>();
    for (const [name, e] of Object.entries(examplesOf('post', '/v1/channels'))) {
      const res = await stack.app.inject({ method: 'POST', url: '/v1/channels', headers: { authorization: `Bearer ${apiKey}` }, payload: e.value });
      expect(res.statusCode, `${name}: ${res.body}`).toBe(201);
      expect(res.json<{ channel_type: string }>().channel_type).toBe(name);
      channels.set(channelTypeOf(name), res.json<{ id: string }>().id);
    }
    // A draft group runs every check a group gets (content, addresses, variables) and sends nothing.
    for (const [name, e] of Object.entries(examplesOf('post', '/v1/group-messages'))) {
      const payload = { ...e.value, channel_id: channels.get(channelTypeOf(name)), draft: true };
      const res = await stack.app.inject({ method: 'POST', url: '/v1/group-messages', headers: { authorization: `Bearer ${apiKey}` }, payload });
      expect(res.statusCode, `${name}: ${res.body}`).toBe(201);
      expect(res.json<{ total: number }>().total).toBe(Array.isArray(e.value.recipients) ? e.value.recipients.length : 0);
    }
  });

  it('every message example passes the route validation and the channel type content checks', async () => {
    const { adapters } = stack.app.deps;
    for (const [name, e] of Object.entries(examplesOf('post', '/v1/messages'))) {
      // The example's channel does not exist: 404 comes after the body passed the schema.
      const res = await stack.app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${stack.apiKey}` }, payload: e.value });
      expect(res.statusCode, `${name}: ${res.body}`).toBe(404);
      expect(res.json<{ error: string; message: string }>().message).toMatch(/channel/);
      const type = channelTypeOf(name);
      expect(() => checkContent(e.value as Parameters<typeof checkContent>[0], type), name).not.toThrow();
      expect(adapters.get(type, 'default').validateAddress?.(String(e.value.to)), name).toBeUndefined();
      // One message is sent as written: a {{placeholder}} would reach the recipient verbatim.
      expect(placeholdersOf(e.value as Parameters<typeof placeholdersOf>[0]).size, name).toBe(0);
    }
  });

  it('serves the YAML document and the reference page with its assets, without an API key', async () => {
    const yaml = await stack.app.inject({ method: 'GET', url: '/docs/yaml' });
    expect(yaml.statusCode).toBe(200);
    expect(yaml.headers['content-type']).toMatch(/yaml/);
    expect(yaml.body).toMatch(/^openapi: 3\./);

    const page = await fetch(`${stack.apiUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets).toContain('/docs/static/swagger-ui-bundle.js');
    for (const asset of assets) {
      expect(asset, 'served from the API itself').toMatch(/^\/docs\/static\//);
      const res = await fetch(`${stack.apiUrl}${asset}`);
      expect(res.status, asset).toBe(200);
    }
    const init = await (await fetch(`${stack.apiUrl}/docs/static/swagger-initializer.js`)).text();
    expect(init).toContain('"validatorUrl":null');
    expect(init).toContain("resolveUrl('./json')");
  });
});

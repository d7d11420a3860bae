import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../support/stack';

describe('GET /docs', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves an OpenAPI 3 document that lists every /v1 and webhook route', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const expected = [
      'POST /v1/channels/',
      'GET /v1/channels/{id}',
      'POST /v1/channels/{id}/verify',
      'PATCH /v1/channels/{id}',
      'POST /v1/channels/{id}/rotate-webhook-secret',
      'GET /v1/api-keys/',
      'POST /v1/api-keys/',
      'DELETE /v1/api-keys/{id}',
      'POST /v1/messages/',
      'GET /v1/messages/',
      'GET /v1/messages/{id}',
      'GET /v1/messages/{id}/events',
      'POST /v1/messages/{id}/replay',
      'POST /v1/replays/',
      'GET /v1/replays/{id}',
      'POST /v1/group-messages/',
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
    // Request bodies are documented from the validating schemas.
    const send = doc.paths['/v1/messages/']?.post as { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } };
    expect(send.requestBody?.content['application/json']?.schema.required).toEqual(['channel_id', 'to']);
  });
});

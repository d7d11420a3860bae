import type { FastifyPluginAsync } from 'fastify';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '../../db/api-keys';
import { isUuid } from '../../db/uuidv7';
import { notFound } from '../errors';

const keyView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'the visible part of the key: `tdk_<prefix>_…`' },
    created_at: { type: 'string', format: 'date-time' },
    revoked_at: { type: 'string', format: 'date-time', nullable: true },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

// The key itself and its hash never leave the database: a listing shows the prefix, which the key starts with.
const view = (k: ApiKeyInfo) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

export const apiKeyRoutes: FastifyPluginAsync = async (app) => {
  const db = app.deps.database.db;

  app.get('/', { schema: { response: { 200: { type: 'object', properties: { data: { type: 'array', items: keyView } } } } } }, async (req) => ({
    data: (await listApiKeys(db, req.accountId)).map(view),
  }));

  // A key is rotated by issuing another, moving clients over, then revoking the old one.
  app.post<{ Body: { name?: string } }>(
    '/',
    {
      schema: {
        body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 201: { ...keyView, properties: { ...keyView.properties, api_key: { type: 'string', description: 'shown once' } } } },
      },
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      const issued = await createApiKey(db, req.accountId, req.body.name ?? 'default');
      req.log.info({ event: 'api_key_created', api_key_id: issued.id, account_id: req.accountId, prefix: issued.prefix });
      return reply.status(201).send({ ...view({ ...issued, accountId: req.accountId, revokedAt: null }), api_key: issued.key });
    },
  );

  app.delete<{ Params: { id: string } }>('/:id', { schema: { params: idParams, response: { 200: keyView } } }, async (req) => {
    const key = isUuid(req.params.id) ? await revokeApiKey(db, req.params.id, req.accountId) : undefined;
    if (!key) throw notFound('api key');
    req.log.info({ event: 'api_key_revoked', api_key_id: key.id, account_id: key.accountId, prefix: key.prefix });
    return view(key);
  });
};

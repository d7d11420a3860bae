import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { apiKeyFor } from '../../db/api-keys';

const plugin: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const key = m?.[1] ? await apiKeyFor(app.deps.database.db, m[1]) : undefined;
    if (!key) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: m ? 'invalid API key' : 'missing Authorization: Bearer <api key>' });
    }
    req.accountId = key.accountId;
    req.apiKeyId = key.id;
  });
};

/** Every /v1 route needs a valid key; the key's account scopes every query. */
export const authPlugin = fp(plugin, { name: 'auth' });

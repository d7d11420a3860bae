import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { accountForApiKey } from '../../db/repo';

const plugin: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const accountId = m?.[1] ? await accountForApiKey(app.deps.database.db, m[1]) : undefined;
    if (!accountId) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: m ? 'invalid API key' : 'missing Authorization: Bearer <api key>' });
    }
    req.accountId = accountId;
  });
};

/** Every /v1 route needs a valid key; the key's account scopes every query. */
export const authPlugin = fp(plugin, { name: 'auth' });

import type { FastifyPluginAsync } from 'fastify';

export const healthRoutes: FastifyPluginAsync = async (app) => {
  const { database, temporal } = app.deps;

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_req, reply) => {
    const [db, tmp] = await Promise.allSettled([database.pool.query('SELECT 1'), temporal.connection.workflowService.getSystemInfo({})]);
    const checks = { database: db.status === 'fulfilled' ? 'ok' : 'down', temporal: tmp.status === 'fulfilled' ? 'ok' : 'down' };
    const ready = checks.database === 'ok' && checks.temporal === 'ok';
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
};

import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { getChannel } from '../../db/channels';
import { isUuid, uuidv7 } from '../../db/uuidv7';
import { DISPATCH_TASK_QUEUE } from '../../workflows/definitions';
import { REPLAY_WORKFLOW, replayProgressQuery, type ReplayInput, type ReplayProgress } from '../../workflows/replay-definitions';
import { badRequest, notFound } from '../errors';

interface ReplayBody {
  status: 'failed' | 'undelivered';
  channel_id?: string;
  from: string;
  to: string;
}

const MAX_RANGE_DAYS = 93;

export const replayRoutes: FastifyPluginAsync = async (app) => {
  const { database, temporal } = app.deps;

  app.post<{ Body: ReplayBody }>(
    '/',
    {
      schema: {
        body: {
          type: 'object',
          required: ['status', 'from', 'to'],
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['failed', 'undelivered'] },
            channel_id: { type: 'string', maxLength: 64 },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const from = new Date(b.from);
      const to = new Date(b.to);
      if (Number.isNaN(from.getTime())) throw badRequest('from', 'is not a date-time');
      if (Number.isNaN(to.getTime()) || to <= from) throw badRequest('to', 'must be a date-time after from');
      if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) throw badRequest('to', `range is limited to ${MAX_RANGE_DAYS} days`);
      if (b.channel_id && !(isUuid(b.channel_id) && (await getChannel(database.db, b.channel_id, req.accountId)))) throw notFound('channel');
      const id = uuidv7();
      const input: ReplayInput = {
        filter: { accountId: req.accountId, status: b.status, channelId: b.channel_id, since: from.toISOString(), until: to.toISOString() },
        pageSize: 100,
      };
      await temporal.workflow.start(REPLAY_WORKFLOW, {
        taskQueue: DISPATCH_TASK_QUEUE,
        workflowId: `replay-${id}`,
        args: [input],
        memo: { account_id: req.accountId },
        staticSummary: `replay ${b.status} ${b.channel_id ? `on channel ${b.channel_id}` : 'on all channels'}`,
        staticDetails: `${from.toISOString()} → ${to.toISOString()}`,
      });
      req.log.info({ event: 'replay_started', replay_id: id, status: b.status, channel_id: b.channel_id });
      return reply.status(202).send({ id, workflow_id: `replay-${id}`, status: 'running' });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/:id',
    { schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } },
    async (req) => {
      if (!isUuid(req.params.id)) throw notFound('replay');
      const handle = temporal.workflow.getHandle(`replay-${req.params.id}`);
      try {
        const desc = await handle.describe();
        if ((desc.memo as { account_id?: string } | undefined)?.account_id !== req.accountId) throw notFound('replay');
        const progress: ReplayProgress = desc.status.name === 'RUNNING' ? await handle.query(replayProgressQuery) : ((await handle.result()) as ReplayProgress);
        return { id: req.params.id, state: desc.status.name.toLowerCase(), ...progress };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw notFound('replay');
        throw err;
      }
    },
  );
};

import { setTimeout as sleep } from 'node:timers/promises';
import { MESSAGE_STATUSES } from '../lifecycle';
import { orNotFound } from './api-client';
import { intFlag, type Command } from './command';
import { duration, fields, json, progressBar } from './output';

/** GET /v1/group-messages/:id, as much of it as the CLI reads. */
export interface GroupView {
  id: string;
  status: string;
  mode: string;
  channel_id: string;
  channel_type: string;
  total: number;
  queued: number;
  sending: number;
  sent: number;
  delivered: number;
  read: number;
  undelivered: number;
  failed: number;
  remaining: number;
  send_rate_per_second: number;
  eta_seconds: number | null;
  trace_id: string | null;
  created_at: string | null;
  started_at: string | null;
  fanout_completed_at: string | null;
  cancelled_at: string | null;
  links?: { temporal_ui: string | null };
}

/** Recipients not yet handed to the provider: no message yet, or queued / sending. */
const unsent = (g: GroupView) => g.remaining + g.queued + g.sending;

/** Nothing more will happen to it: cancelled, or completed with every recipient handed over. */
export const finished = (g: GroupView) => g.status === 'cancelled' || g.status === 'failed' || (g.status === 'completed' && unsent(g) === 0);

function showGroup(g: GroupView): string {
  const done = g.total - unsent(g);
  const counts = MESSAGE_STATUSES.map((k) => `${k} ${g[k]}`);
  if (g.remaining > 0) counts.push(`not created yet ${g.remaining}`);
  return (
    [
      `group ${g.id}  ${g.channel_type} · ${g.mode} · ${g.status}`,
      `  ${progressBar(done, g.total)}  ${done} of ${g.total} sent or ended`,
      `  ${counts.join(' · ')}`,
      fields([
        ['send rate', `${g.send_rate_per_second}/s`],
        ['ETA', duration(g.eta_seconds)],
        ['channel', g.channel_id],
        ['created', g.created_at],
        ['started', g.started_at],
        ...(g.fanout_completed_at ? [['fan-out done', g.fanout_completed_at] as const] : []),
        ...(g.cancelled_at ? [['cancelled', g.cancelled_at] as const] : []),
        ['trace id', g.trace_id],
        ['Web UI', g.links?.temporal_ui ?? null],
      ]),
    ].join('\n') + '\n'
  );
}

export const groupShow: Command = {
  name: 'group show',
  args: '<id> [--watch [--interval-ms <ms>]] [--json]',
  summary: "a group's progress: counts by status, mode, send rate, ETA, a progress bar, Web UI link",
  help: [
    '--watch redraws every 2 s (--interval-ms) until the group is finished — completed with every',
    'recipient handed to the provider, or cancelled — then exits 0. With --json, --watch prints only the final view.',
  ].join('\n'),
  options: { watch: { type: 'boolean' }, 'interval-ms': { type: 'string' } },
  positionals: ['id'],
  api: true,
  async run({ positionals: [id = ''], values, io, api }) {
    const client = api();
    const interval = intFlag(values, 'interval-ms', 100, 3_600_000) ?? 2_000;
    const load = () => orNotFound('group', id, client.get<GroupView>(`/v1/group-messages/${encodeURIComponent(id)}`));
    let drawn = '';
    for (;;) {
      const g = await load();
      const last = !values.watch || finished(g);
      if (!values.json) {
        const frame = showGroup(g);
        // A terminal redraws the frame in place; a log gets each change once.
        if (io.stdout.isTTY && drawn) io.stdout.write(`\x1b[${drawn.split('\n').length - 1}A\x1b[J${frame}`);
        else if (frame !== drawn) io.stdout.write(drawn && !io.stdout.isTTY ? `\n${frame}` : frame);
        drawn = frame;
      }
      if (last) {
        if (values.json) io.stdout.write(json(g));
        return 0;
      }
      await sleep(interval);
    }
  },
};

export const GROUP_COMMANDS: readonly Command[] = [groupShow];

import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './api-client';
import { str, timeFlag, UsageError, type Command } from './command';
import { progressBar, type Output } from './output';

export interface ReplayArgs {
  status: string;
  channel?: string;
  /** ISO 8601. */
  since: string;
  until?: string;
  pollMs?: number;
}

interface Progress {
  state: string;
  matched: number;
  replayed: number;
  skipped: number;
  done: boolean;
}

const bar = (p: Progress) =>
  `${progressBar(p.replayed + p.skipped, Math.max(p.matched, 1))} ${p.replayed}/${p.matched} replayed${p.skipped ? `, ${p.skipped} skipped` : ''}`;

/** Starts a bulk replay through the API and draws its progress until it is done. */
export async function runReplay(api: ApiClient, args: ReplayArgs, out: Output): Promise<Progress & { id: string }> {
  const started = await api.post<{ id?: string }>('/v1/replays', {
    status: args.status,
    ...(args.channel ? { channel_id: args.channel } : {}),
    from: args.since,
    to: args.until ?? new Date(Date.now() + 60_000).toISOString(),
  });
  if (!started.id) throw new Error(`the API at ${api.url} accepted the replay without an id`);
  for (;;) {
    const p = await api.get<Progress>(`/v1/replays/${started.id}`);
    out.write(`\r${bar(p)}`);
    if (p.done || p.state !== 'running') {
      out.write('\n');
      return { id: started.id, ...p };
    }
    await sleep(args.pollMs ?? 500);
  }
}

export const replay: Command = {
  name: 'replay',
  args: '--status failed|undelivered --since <time> [--until <time>] [--channel <id>]',
  summary: 're-drive failed sends through the API (POST /v1/replays), with a progress bar',
  help: 'The progress bar goes to stderr; the result is one JSON line on stdout.',
  options: { status: { type: 'string', default: 'failed' }, channel: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
  api: true,
  async run({ values, io, api }) {
    const since = timeFlag(values, 'since');
    if (!since) throw new UsageError('--since is required');
    const result = await runReplay(
      api(),
      { status: str(values, 'status') ?? 'failed', channel: str(values, 'channel'), since, until: timeFlag(values, 'until') },
      io.stderr,
    );
    io.stdout.write(`${JSON.stringify({ event: 'replay_finished', ...result })}\n`);
    return 0;
  },
};

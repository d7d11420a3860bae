import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReplayArgs {
  status: string;
  channel?: string;
  since: string;
  until?: string;
  apiUrl?: string;
  apiKey?: string;
  pollMs?: number;
}

interface Progress {
  state: string;
  matched: number;
  replayed: number;
  skipped: number;
  done: boolean;
}

/** API URL and key from flags, else TURUMBA_API_URL / TURUMBA_API_KEY, else the dev stack's .dev/stack.json. */
function target(args: ReplayArgs): { url: string; key: string } {
  const stackFile = join(process.env.DEV_DIR ?? '.dev', 'stack.json');
  const dev = existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as { api_url?: string; api_key?: string }) : {};
  const url = args.apiUrl ?? process.env.TURUMBA_API_URL ?? dev.api_url;
  const key = args.apiKey ?? process.env.TURUMBA_API_KEY ?? dev.api_key;
  if (!url || !key) throw new Error('no API to talk to: pass --api-url and --api-key (or TURUMBA_API_URL / TURUMBA_API_KEY)');
  return { url: url.replace(/\/+$/, ''), key };
}

function bar(p: Progress, width = 30): string {
  const total = Math.max(p.matched, 1);
  const filled = Math.round((Math.min(p.replayed + p.skipped, total) / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.replayed}/${p.matched} replayed${p.skipped ? `, ${p.skipped} skipped` : ''}`;
}

/** Starts a bulk replay through the API and draws its progress until it is done. */
export async function runReplay(args: ReplayArgs, out: NodeJS.WritableStream = process.stderr): Promise<Progress & { id: string }> {
  const { url, key } = target(args);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const since = new Date(args.since);
  if (Number.isNaN(since.getTime())) throw new Error(`--since is not a date: ${args.since}`);
  const res = await fetch(`${url}/v1/replays`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      status: args.status,
      ...(args.channel ? { channel_id: args.channel } : {}),
      from: since.toISOString(),
      to: (args.until ? new Date(args.until) : new Date(Date.now() + 60_000)).toISOString(),
    }),
  });
  const started = (await res.json()) as { id?: string; message?: string; field?: string };
  if (res.status !== 202 || !started.id) throw new Error(`replay refused (${res.status}): ${started.field ? `${started.field} ` : ''}${started.message ?? ''}`);
  for (;;) {
    const r = await fetch(`${url}/v1/replays/${started.id}`, { headers });
    const p = (await r.json()) as Progress;
    out.write(`\r${bar(p)}`);
    if (p.done || p.state !== 'running') {
      out.write('\n');
      return { id: started.id, ...p };
    }
    await new Promise((res2) => setTimeout(res2, args.pollMs ?? 500));
  }
}

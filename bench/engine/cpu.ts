import { readdirSync, readFileSync } from 'node:fs';

// CPU time by process, read from /proc, so a bench can say where each message's
// milliseconds go (Temporal server, worker, API, PostgreSQL, the bench's own load and simulators).

const TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, seconds. */
  cpuSeconds: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces: the fields after the last ')' are fixed.
    const close = raw.lastIndexOf(')');
    const comm = raw.slice(raw.indexOf('(') + 1, close);
    const f = raw.slice(close + 2).split(' ');
    return { pid, ppid: Number(f[1]), comm, cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readStat(Number(d)))
    .filter((s): s is ProcStat => s !== undefined);
}

/** A group of processes: given roots and their descendants, one process alone, or every process of a command name. */
export type ProcessGroup = { roots: number[] } | { pid: number } | { comm: string };

export type CpuSample = Record<string, number>;

/** CPU seconds used so far by each group (live processes only: sample around work that keeps them alive). */
export function sampleCpu(groups: Record<string, ProcessGroup>): CpuSample {
  const procs = allProcesses();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const out: CpuSample = {};
  for (const [name, g] of Object.entries(groups)) {
    if ('comm' in g) {
      out[name] = procs.filter((p) => p.comm === g.comm).reduce((s, p) => s + p.cpuSeconds, 0);
      continue;
    }
    if ('pid' in g) {
      out[name] = byPid.get(g.pid)?.cpuSeconds ?? 0;
      continue;
    }
    const seen = new Set<number>();
    const stack = [...g.roots];
    while (stack.length) {
      const pid = stack.pop() ?? 0;
      if (seen.has(pid)) continue;
      seen.add(pid);
      stack.push(...(children.get(pid) ?? []));
    }
    out[name] = [...seen].reduce((s, pid) => s + (byPid.get(pid)?.cpuSeconds ?? 0), 0);
  }
  return out;
}

/** Milliseconds of CPU per message and each group's share, between two samples. */
export function cpuPerMessage(before: CpuSample, after: CpuSample, messages: number): { msPerMessage: Record<string, number>; share: Record<string, number> } {
  const used = Object.fromEntries(Object.keys(after).map((k) => [k, Math.max(0, (after[k] ?? 0) - (before[k] ?? 0))]));
  const total = Object.values(used).reduce((s, v) => s + v, 0) || 1;
  return {
    msPerMessage: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, Math.round((v * 1000 * 100) / messages) / 100])),
    share: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, Math.round((v / total) * 1000) / 10])),
  };
}

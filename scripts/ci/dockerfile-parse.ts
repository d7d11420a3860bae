// A Dockerfile reader good enough for static checks: line continuations, comments,
// stages, COPY/ADD flags and sources, exec-form (JSON) and shell-form commands.

export interface Instruction {
  line: number;
  keyword: string;
  /** Everything after the keyword, continuations joined. */
  args: string;
}

export interface CopyInstruction {
  line: number;
  from: string | undefined;
  sources: string[];
  dest: string;
}

export interface Stage {
  index: number;
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending !== '' && trimmed.startsWith('#')) return;
    if (pending === '') startLine = i + 1;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `;
      return;
    }
    const full = (pending + trimmed).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (!match) return;
    const instruction: Instruction = { line: startLine, keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim() };
    if (instruction.keyword === 'FROM') {
      const [base = '', as, name] = instruction.args.split(/\s+/).filter((t) => !t.startsWith('--'));
      stages.push({ index: stages.length, name: as?.toUpperCase() === 'AS' ? name : undefined, base, instructions: [] });
    }
    stages[stages.length - 1]?.instructions.push(instruction);
  });
  return stages;
}

/** Exec form `["a", "b"]` as a list; shell form as its words (best effort). */
export function commandWords(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // Docker runs an unparsable exec form as a shell command; so do we.
    }
  }
  return trimmed.split(/\s+/).filter(Boolean);
}

export function parseCopy(instruction: Instruction): CopyInstruction {
  let from: string | undefined;
  const words: string[] = [];
  let rest = instruction.args;
  for (;;) {
    const flag = /^--([\w-]+)(?:=(\S+))?\s+/.exec(rest);
    if (!flag) break;
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  words.push(...commandWords(rest));
  const dest = words.pop() ?? '';
  return { line: instruction.line, from, sources: words, dest };
}

/** HEALTHCHECK [options] CMD ... -> the command part; undefined for NONE. */
export function healthcheckCommand(args: string): string | undefined {
  const withoutOptions = args.replace(/^(--[\w-]+=\S+\s+)*/, '');
  if (/^NONE\b/i.test(withoutOptions)) return undefined;
  const cmd = /^CMD\s+(.*)$/is.exec(withoutOptions);
  return cmd?.[1];
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// .dockerignore semantics of moby/patternmatcher: patterns are relative to the context
// root (a leading "/" is dropped), `*` and `?` stay within one path segment, `**` spans
// segments, a pattern that matches a directory excludes everything under it, and the
// last matching line wins, so `!pattern` re-includes.

interface Rule {
  exclude: boolean;
  regex: RegExp;
  source: string;
  /** The pattern up to its first wildcard. */
  prefix: string;
}

export interface DockerIgnore {
  /** True when `path` (relative, forward slashes) is left out of the build context. */
  excludes(path: string): boolean;
  /** The line that decides `path`, for messages. */
  decidingPattern(path: string): string | undefined;
  /** Whether some `!pattern` could re-include a file under the excluded directory `dir`. */
  mayReinclude(dir: string): boolean;
}

export function parseDockerIgnore(text: string): DockerIgnore {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    if (!exclude) line = line.slice(1).trim();
    const cleaned = line.replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\//, '');
    if (cleaned === '' || cleaned === '.') continue;
    rules.push({ exclude, regex: compile(cleaned), source: raw.trim(), prefix: cleaned.split(/[*?[]/)[0] ?? '' });
  }

  const decide = (path: string): Rule | undefined => {
    const candidates = ancestorsAndSelf(normalise(path));
    let decided: Rule | undefined;
    for (const rule of rules) {
      if (candidates.some((p) => rule.regex.test(p))) decided = rule;
    }
    return decided;
  };
  return {
    excludes: (path) => decide(path)?.exclude ?? false,
    decidingPattern: (path) => decide(path)?.source,
    mayReinclude: (dir) => {
      const d = normalise(dir);
      return rules.some((r) => !r.exclude && (r.prefix.startsWith(`${d}/`) || `${d}/`.startsWith(r.prefix)));
    },
  };
}

export function loadDockerIgnore(contextDir: string): DockerIgnore {
  const file = join(contextDir, '.dockerignore');
  return parseDockerIgnore(existsSync(file) ? readFileSync(file, 'utf8') : '');
}

function normalise(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** "a/b/c" -> ["a", "a/b", "a/b/c"]: a pattern matching a parent excludes the child. */
function ancestorsAndSelf(path: string): string[] {
  const segments = path.split('/');
  return segments.map((_, i) => segments.slice(0, i + 1).join('/'));
}

function compile(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const ch = pattern[i] ?? '';
    if (ch === '*' && pattern[i + 1] === '*') {
      const slashAfter = pattern[i + 2] === '/';
      out += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (ch === '*') {
      out += '[^/]*';
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      const body = pattern
        .slice(i + 1, end)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\');
      out += `[${body}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) {
      out += escapeRegex(pattern[i + 1] ?? '');
      i += 1;
    } else {
      out += escapeRegex(ch);
    }
  }
  return new RegExp(`^${out}$`);
}

function escapeRegex(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

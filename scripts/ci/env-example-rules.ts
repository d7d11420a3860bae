import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComposeModel } from './compose-model';
import { isSecretName, literalUrlPasswords } from './compose-secrets';
import type { Findings } from './findings';
import { references } from './interpolation';

// .env.example is the one list of every setting: each variable docker-compose.yml
// interpolates and each one config/index.ts reads must be there, with placeholder (never
// real) secrets, and .env itself must stay out of git.

export interface EnvExample {
  /** KEY=value lines. */
  active: Map<string, string>;
  /** `# KEY=value` lines: documented, deliberately not set. */
  documented: Set<string>;
}

const PLACEHOLDER = /change-me/i;

export function parseEnvExample(text: string): EnvExample {
  const active = new Map<string, string>();
  const documented = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const set = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (set?.[1] !== undefined) {
      active.set(set[1], (set[2] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2'));
      continue;
    }
    const commented = /^\s*#\s*([A-Z_][A-Z0-9_]*)=/.exec(line);
    if (commented?.[1] !== undefined) documented.add(commented[1]);
  }
  return { active, documented };
}

export function loadEnvExample(root: string): EnvExample | undefined {
  const file = join(root, '.env.example');
  return existsSync(file) ? parseEnvExample(readFileSync(file, 'utf8')) : undefined;
}

/** Variable names config/index.ts reads by literal name (`str('X')`, `int('X', ...)`, `env.X`). */
export function configVariables(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:str|int|url|bool|list)\(\s*'([A-Z][A-Z0-9_]*)'/g)) if (m[1]) names.add(m[1]);
  for (const m of source.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[\s*'([A-Z][A-Z0-9_]*)'\s*\])/g)) {
    const name = m[1] ?? m[2];
    if (name) names.add(name);
  }
  return [...names].sort();
}

export function checkEnvExample(root: string, model: ComposeModel | undefined, appServices: string[], findings: Findings): void {
  const example = loadEnvExample(root);
  if (!example) {
    findings.error('.env.example', 'missing: commit one with every variable and placeholder secrets');
    return;
  }
  const gitignore = existsSync(join(root, '.gitignore')) ? readFileSync(join(root, '.gitignore'), 'utf8') : '';
  if (!gitignore.split(/\r?\n/).some((l) => ['.env', '/.env', '.env*', '.env.*'].includes(l.trim()))) {
    findings.error('.gitignore', 'must ignore .env (it holds the real secrets)');
  }

  for (const [key, value] of example.active) {
    if (isSecretName(key) && value !== '' && !PLACEHOLDER.test(value)) {
      findings.error(`.env.example ${key}`, 'a secret must hold a change-me placeholder, not a value');
    }
    if (literalUrlPasswords(value).some((p) => !PLACEHOLDER.test(p))) {
      findings.error(`.env.example ${key}`, 'a URL password must be a change-me placeholder');
    }
  }

  const composeVars = new Set<string>();
  if (model) {
    const texts: string[] = [];
    collectStrings(model.raw, texts);
    for (const t of texts) {
      try {
        for (const ref of references(t)) composeVars.add(ref.name);
      } catch (err) {
        findings.error(model.file, (err as Error).message);
      }
    }
    for (const name of composeVars) {
      if (!example.active.has(name)) findings.error(`.env.example`, `${model.file} uses \${${name}}, which .env.example does not list`);
    }
  }

  const configFile = join(root, 'config', 'index.ts');
  const configVars = existsSync(configFile) ? configVariables(readFileSync(configFile, 'utf8')) : [];
  for (const name of configVars) {
    if (!example.active.has(name) && !example.documented.has(name)) {
      findings.error('.env.example', `config/index.ts reads ${name}, which .env.example does not list (set it, or document it as # ${name}=)`);
    }
    if (!model || example.documented.has(name)) continue;
    for (const svcName of appServices) {
      const svc = model.services.get(svcName);
      if (svc && !(name in svc.environment)) {
        findings.error(`${model.file} services.${svcName}.environment`, `does not pass ${name}, which config/index.ts reads`);
      }
    }
  }
  for (const name of example.active.keys()) {
    if (!composeVars.has(name) && !configVars.includes(name)) {
      findings.warn(`.env.example ${name}`, 'neither docker-compose.yml nor config/index.ts uses it');
    }
  }
}

function collectStrings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => collectStrings(v, out));
  else if (typeof value === 'object' && value !== null) Object.values(value).forEach((v) => collectStrings(v, out));
}

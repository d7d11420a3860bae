import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { isRecord, isStringArray, type Findings } from './findings';
import { interpolate, type Env } from './interpolation';

export interface Mount {
  type: 'bind' | 'volume' | 'tmpfs';
  /** As written (may contain ${VAR}). */
  rawSource: string;
  /** Interpolated; for binds relative to the compose file's directory. */
  source: string;
  target: string;
  /** Long syntax `bind.create_host_path: false`: compose refuses a missing source. */
  mustExist: boolean;
}

export interface ServiceView {
  name: string;
  raw: Record<string, unknown>;
  /** Environment as written (values uninterpolated; null = pass-through from the shell). */
  environment: Record<string, string | null>;
  dependsOn: Record<string, string>;
  mounts: Mount[];
}

export interface ComposeModel {
  file: string;
  dir: string;
  raw: Record<string, unknown>;
  services: Map<string, ServiceView>;
  /** Values used to resolve ${VAR}: .env.example, then each reference's own default. */
  env: Env;
}

/** Parses and normalises a compose file; problems go to `findings`, undefined when unusable. */
export function loadCompose(dir: string, fileName: string, env: Env, findings: Findings): ComposeModel | undefined {
  const file = join(dir, fileName);
  if (!existsSync(file)) {
    findings.error(fileName, 'file not found');
    return undefined;
  }
  const doc = parseDocument(readFileSync(file, 'utf8'), { merge: true, uniqueKeys: true, prettyErrors: true });
  for (const e of doc.errors) findings.error(fileName, `YAML: ${e.message}`);
  if (doc.errors.length > 0) return undefined;
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (!isRecord(raw) || !isRecord(raw.services)) {
    findings.error(fileName, 'top level must be a mapping with a `services` mapping');
    return undefined;
  }
  const services = new Map<string, ServiceView>();
  for (const [name, svc] of Object.entries(raw.services)) {
    const where = `${fileName} services.${name}`;
    if (!isRecord(svc)) {
      findings.error(where, 'a service must be a mapping');
      continue;
    }
    services.set(name, {
      name,
      raw: svc,
      environment: normaliseEnvironment(svc.environment, where, findings),
      dependsOn: normaliseDependsOn(svc.depends_on, where, findings),
      mounts: normaliseMounts(svc.volumes, env, where, findings),
    });
  }
  return { file: fileName, dir, raw, services, env };
}

function normaliseEnvironment(value: unknown, where: string, findings: Findings): Record<string, string | null> {
  if (value === undefined) return {};
  const out: Record<string, string | null> = {};
  if (isStringArray(value)) {
    for (const entry of value) {
      const eq = entry.indexOf('=');
      if (eq < 0) out[entry] = null;
      else out[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return out;
  }
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (v === null) out[k] = null;
      else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else findings.error(`${where}.environment.${k}`, 'value must be a string, number or boolean');
    }
    return out;
  }
  findings.error(`${where}.environment`, 'must be a mapping or a list of KEY=value');
  return out;
}

function normaliseDependsOn(value: unknown, where: string, findings: Findings): Record<string, string> {
  if (value === undefined) return {};
  if (isStringArray(value)) return Object.fromEntries(value.map((s) => [s, 'service_started']));
  if (isRecord(value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      const condition = isRecord(v) ? v.condition : undefined;
      if (condition !== undefined && typeof condition !== 'string') {
        findings.error(`${where}.depends_on.${k}`, 'condition must be a string');
        continue;
      }
      out[k] = condition ?? 'service_started';
    }
    return out;
  }
  findings.error(`${where}.depends_on`, 'must be a list of service names or a mapping');
  return {};
}

function normaliseMounts(value: unknown, env: Env, where: string, findings: Findings): Mount[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    findings.error(`${where}.volumes`, 'must be a list');
    return [];
  }
  const mounts: Mount[] = [];
  for (const entry of value) {
    if (typeof entry === 'string') {
      const [rawSource = '', target, mode] = splitOutsideBraces(entry, ':');
      if (target === undefined) {
        // "/data": an anonymous volume.
        mounts.push({ type: 'volume', rawSource: '', source: '', target: rawSource, mustExist: false });
        continue;
      }
      if (mode !== undefined && !/^(ro|rw|z|Z|cached|delegated|consistent|nocopy)(,(ro|rw|z|Z|cached|delegated|consistent|nocopy))*$/.test(mode)) {
        findings.error(`${where}.volumes`, `"${entry}": unknown mount mode "${mode}"`);
      }
      const source = interpolate(rawSource, env);
      mounts.push({ type: isPathLike(source) ? 'bind' : 'volume', rawSource, source, target, mustExist: false });
    } else if (isRecord(entry) && typeof entry.target === 'string') {
      const type = entry.type === 'bind' || entry.type === 'tmpfs' ? entry.type : 'volume';
      const rawSource = typeof entry.source === 'string' ? entry.source : '';
      const bind = isRecord(entry.bind) ? entry.bind : {};
      mounts.push({ type, rawSource, source: interpolate(rawSource, env), target: entry.target, mustExist: bind.create_host_path === false });
    } else {
      findings.error(`${where}.volumes`, `unreadable entry ${JSON.stringify(entry)}`);
    }
  }
  return mounts;
}

/** Compose treats a source starting with ., / or ~ as a host path, anything else as a volume name. */
export function isPathLike(source: string): boolean {
  return /^(\.|\/|~)/.test(source);
}

/** Splits on `sep` except inside `${...}`, where `:-` and `:?` also use colons. */
export function splitOutsideBraces(value: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i] ?? '';
    if (ch === '$' && value[i + 1] === '{') {
      depth += 1;
      current += '${';
      i += 1;
      continue;
    }
    if (ch === '}' && depth > 0) depth -= 1;
    if (ch === sep && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ComposeModel, Mount, ServiceView } from './compose-model';
import { isRecord, isStringArray, type Findings } from './findings';
import { interpolate } from './interpolation';

// "Every config file a service mounts or references exists in the repo": bind-mount
// sources, env_file, container paths named in command/entrypoint/environment/healthcheck
// that fall inside a bind mount, and absolute paths written inside mounted YAML configs
// (Prometheus rule_files, Grafana provisioning paths).

export interface FileOptions {
  /** Repository paths allowed to be missing for now (reported as warnings). */
  pending: string[];
}

export function checkFiles(model: ComposeModel, opts: FileOptions, findings: Findings): void {
  for (const svc of model.services.values()) {
    const where = `${model.file} services.${svc.name}`;
    const binds = svc.mounts.filter((m) => m.type === 'bind');
    for (const m of binds) requireHostPath(model, m.source, `${where}.volumes`, `mounts ${m.source} at ${m.target}`, opts, findings);
    checkEnvFiles(model, svc, where, opts, findings);
    for (const [field, text] of commandStrings(svc)) {
      for (const path of absolutePaths(text)) {
        const host = toHostPath(binds, path);
        if (host) requireHostPath(model, host, `${where}.${field}`, `refers to ${path}`, opts, findings);
      }
    }
    checkMountedYaml(model, binds, where, opts, findings);
  }
}

function requireHostPath(model: ComposeModel, hostPath: string, where: string, what: string, opts: FileOptions, findings: Findings): void {
  const repoPath = toRepoPath(model, hostPath);
  if (repoPath.includes('*')) {
    const dir = repoPath.slice(0, repoPath.indexOf('*')).replace(/[^/]*$/, '');
    if (!existsSync(join(model.dir, dir))) findings.error(where, `${what}, but directory ${dir || '.'} does not exist`);
    return;
  }
  if (existsSync(join(model.dir, repoPath))) return;
  if (opts.pending.includes(repoPath)) findings.warn(where, `${what}: ${repoPath} is missing (pending: allowed for now)`);
  else findings.error(where, `${what}, but ${repoPath} does not exist in the repository`);
}

function toRepoPath(model: ComposeModel, hostPath: string): string {
  const abs = hostPath.startsWith('/') ? hostPath : join(model.dir, hostPath);
  return relative(model.dir, abs).split('\\').join('/');
}

function checkEnvFiles(model: ComposeModel, svc: ServiceView, where: string, opts: FileOptions, findings: Findings): void {
  const raw = svc.raw.env_file;
  const entries = raw === undefined ? [] : Array.isArray(raw) ? (raw as unknown[]) : [raw];
  for (const e of entries) {
    const path = typeof e === 'string' ? e : isRecord(e) && typeof e.path === 'string' ? e.path : undefined;
    const required = !(isRecord(e) && e.required === false);
    if (path === undefined) findings.error(`${where}.env_file`, `unreadable entry ${JSON.stringify(e)}`);
    else if (required) requireHostPath(model, interpolate(path, model.env), `${where}.env_file`, 'reads env_file', opts, findings);
  }
}

/** [field, text] for every string a container runs or reads as configuration. */
function commandStrings(svc: ServiceView): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const field of ['command', 'entrypoint'] as const) {
    const v = svc.raw[field];
    if (typeof v === 'string') out.push([field, v]);
    else if (isStringArray(v)) for (const s of v) out.push([field, s]);
  }
  for (const [k, v] of Object.entries(svc.environment)) if (v !== null) out.push([`environment.${k}`, v]);
  const hc = svc.raw.healthcheck;
  if (isRecord(hc)) {
    if (typeof hc.test === 'string') out.push(['healthcheck', hc.test]);
    else if (isStringArray(hc.test)) for (const s of hc.test.slice(1)) out.push(['healthcheck', s]);
  }
  return out;
}

/** Absolute container paths in a command-ish string: `--config.file=/etc/x.yml` -> /etc/x.yml. */
export function absolutePaths(text: string): string[] {
  return text
    .split(/[\s=,;'"()]+/)
    .filter((t) => t.startsWith('/') && !t.startsWith('//'))
    .map((t) => t.replace(/[.:]+$/, ''));
}

/** The host path behind a container path, when a bind mount covers it. */
function toHostPath(binds: Mount[], containerPath: string): string | undefined {
  const mount = binds
    .filter((m) => containerPath === m.target || containerPath.startsWith(`${m.target.replace(/\/+$/, '')}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  if (!mount) return undefined;
  return mount.source.replace(/\/+$/, '') + containerPath.slice(mount.target.replace(/\/+$/, '').length);
}

function checkMountedYaml(model: ComposeModel, binds: Mount[], where: string, opts: FileOptions, findings: Findings): void {
  for (const m of binds) {
    const hostRoot = join(model.dir, toRepoPath(model, m.source));
    if (!existsSync(hostRoot)) continue;
    const files = statSync(hostRoot).isDirectory() ? yamlFilesUnder(hostRoot) : /\.ya?ml$/.test(hostRoot) ? [hostRoot] : [];
    for (const file of files) {
      const containerFile = posix.join(m.target, relative(hostRoot, file).split('\\').join('/'));
      const label = relative(model.dir, file).split('\\').join('/');
      for (const path of yamlPathValues(file)) {
        const host = toHostPath(binds, path);
        if (host) {
          requireHostPath(model, host, `${where} (${label})`, `${label} refers to ${path}`, opts, findings);
        } else if (posix.dirname(path) === posix.dirname(containerFile)) {
          findings.error(`${where} (${label})`, `${label} refers to ${path}, which no volume of this service provides`);
        }
      }
    }
  }
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFilesUnder(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

function yamlPathValues(file: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (/^\/[\w.*-]/.test(v) && !/\s/.test(v)) out.push(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) Object.values(v).forEach(walk);
  };
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if ('errors' in doc && doc.errors.length === 0) walk(doc.toJS());
  }
  return out.filter((p) => dirname(p) !== '/' || p.length > 1);
}

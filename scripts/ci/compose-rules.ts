import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { splitOutsideBraces, type ComposeModel, type ServiceView } from './compose-model';
import { isRecord, isStringArray, type Findings } from './findings';
import { interpolate } from './interpolation';

// The essentials of the compose specification that `docker compose config` would reject,
// plus the topology rules this project relies on (scalable workers, one-shot init steps).

const TOP_LEVEL = new Set(['version', 'name', 'services', 'volumes', 'networks', 'configs', 'secrets', 'include']);
const SERVICE_KEYS = new Set([
  'image',
  'build',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'depends_on',
  'healthcheck',
  'volumes',
  'ports',
  'expose',
  'restart',
  'deploy',
  'labels',
  'logging',
  'networks',
  'container_name',
  'hostname',
  'user',
  'working_dir',
  'read_only',
  'tmpfs',
  'cap_add',
  'cap_drop',
  'security_opt',
  'stop_grace_period',
  'stop_signal',
  'shm_size',
  'ulimits',
  'init',
  'extra_hosts',
  'dns',
  'profiles',
  'platform',
  'pull_policy',
  'secrets',
  'configs',
  'sysctls',
  'privileged',
  'stdin_open',
  'tty',
  'mem_limit',
  'mem_reservation',
  'cpus',
  'extends',
  'network_mode',
  'devices',
  'ipc',
  'pid',
  'userns_mode',
  'scale',
  'domainname',
  'group_add',
  'oom_score_adj',
  'runtime',
  'attach',
  'develop',
  'annotations',
]);
const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const DURATION = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/;
const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

export interface TopologyOptions {
  /** Services that must run as N replicas: no container_name, no fixed host port. */
  scalable: string[];
  /** Whether a service built from this repository gets a HEALTHCHECK from its Dockerfile. */
  imageHasHealthcheck: (service: ServiceView) => boolean;
}

export function checkStructure(model: ComposeModel, opts: TopologyOptions, findings: Findings): void {
  for (const key of Object.keys(model.raw)) {
    if (!TOP_LEVEL.has(key) && !key.startsWith('x-')) findings.error(model.file, `unknown top-level key "${key}"`);
  }
  const declaredVolumes = isRecord(model.raw.volumes) ? Object.keys(model.raw.volumes) : [];
  const usedVolumes = new Set<string>();

  for (const svc of model.services.values()) {
    const where = `${model.file} services.${svc.name}`;
    for (const key of Object.keys(svc.raw)) {
      if (!SERVICE_KEYS.has(key) && !key.startsWith('x-')) findings.error(where, `unknown key "${key}"`);
    }
    if (svc.raw.image === undefined && svc.raw.build === undefined) findings.error(where, 'needs `image` or `build`');
    checkBuild(model, svc, where, findings);
    checkRestart(svc.raw.restart, where, findings);
    checkHealthcheck(svc.raw.healthcheck, `${where}.healthcheck`, findings);
    for (const m of svc.mounts) {
      if (m.type !== 'volume' || m.rawSource === '') continue;
      usedVolumes.add(m.source);
      if (!declaredVolumes.includes(m.source)) {
        findings.error(`${where}.volumes`, `named volume "${m.source}" is not declared under top-level volumes`);
      }
    }
    checkDependsOn(model, svc, opts, where, findings);
    if (opts.scalable.includes(svc.name)) checkScalable(model, svc, where, findings);
  }
  for (const v of declaredVolumes) {
    if (!usedVolumes.has(v)) findings.warn(`${model.file} volumes.${v}`, 'declared but no service mounts it');
  }
  checkCycles(model, findings);
  for (const name of opts.scalable) {
    if (!model.services.has(name)) findings.error(model.file, `scalable service "${name}" is not defined`);
  }
}

function checkBuild(model: ComposeModel, svc: ServiceView, where: string, findings: Findings): void {
  const build = svc.raw.build;
  if (build === undefined) return;
  const context = typeof build === 'string' ? build : isRecord(build) && typeof build.context === 'string' ? build.context : '.';
  const dockerfile = isRecord(build) && typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
  const contextDir = join(model.dir, interpolate(context, model.env));
  if (!existsSync(contextDir)) findings.error(`${where}.build`, `context "${context}" does not exist`);
  else if (!existsSync(join(contextDir, dockerfile))) findings.error(`${where}.build`, `${dockerfile} not found in "${context}"`);
}

function checkRestart(value: unknown, where: string, findings: Findings): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !RESTART.test(value)) {
    findings.error(`${where}.restart`, `must be no, always, unless-stopped or on-failure[:N] (got ${JSON.stringify(value)})`);
  }
}

function checkHealthcheck(value: unknown, where: string, findings: Findings): void {
  if (value === undefined) return;
  if (!isRecord(value)) {
    findings.error(where, 'must be a mapping');
    return;
  }
  if (value.disable === true) return;
  const test = value.test;
  if (typeof test === 'string') {
    if (test.trim() === '') findings.error(`${where}.test`, 'is empty');
  } else if (isStringArray(test)) {
    const [kind, ...args] = test;
    if (kind === undefined || !['NONE', 'CMD', 'CMD-SHELL'].includes(kind)) {
      findings.error(`${where}.test`, 'a list must start with CMD, CMD-SHELL or NONE');
    } else if (kind !== 'NONE' && args.length === 0) {
      findings.error(`${where}.test`, `${kind} needs a command`);
    }
  } else {
    findings.error(`${where}.test`, 'must be a string or a list of strings');
  }
  for (const key of ['interval', 'timeout', 'start_period', 'start_interval']) {
    const v = value[key];
    if (v !== undefined && (typeof v !== 'string' || !DURATION.test(v))) {
      findings.error(`${where}.${key}`, `must be a duration like 10s or 1m30s (got ${JSON.stringify(v)})`);
    }
  }
  if (value.retries !== undefined && !(Number.isInteger(value.retries) && (value.retries as number) >= 0)) {
    findings.error(`${where}.retries`, 'must be a non-negative integer');
  }
}

function hasHealthcheck(svc: ServiceView, opts: TopologyOptions): boolean {
  const hc = svc.raw.healthcheck;
  if (isRecord(hc)) return hc.disable !== true && !(isStringArray(hc.test) && hc.test[0] === 'NONE');
  return svc.raw.build !== undefined && opts.imageHasHealthcheck(svc);
}

function checkDependsOn(model: ComposeModel, svc: ServiceView, opts: TopologyOptions, where: string, findings: Findings): void {
  for (const [target, condition] of Object.entries(svc.dependsOn)) {
    const at = `${where}.depends_on.${target}`;
    const dep = model.services.get(target);
    if (!dep) {
      findings.error(at, `depends on "${target}", which is not a service in this file`);
      continue;
    }
    if (target === svc.name) findings.error(at, 'a service cannot depend on itself');
    if (!CONDITIONS.has(condition)) findings.error(at, `unknown condition "${condition}"`);
    if (condition === 'service_healthy' && !hasHealthcheck(dep, opts)) {
      findings.error(at, `waits for "${target}" to be healthy, but "${target}" has no healthcheck`);
    }
    const restart = dep.raw.restart;
    if (condition === 'service_completed_successfully' && (restart === 'always' || restart === 'unless-stopped')) {
      findings.error(at, `waits for "${target}" to complete, but its restart policy "${restart}" restarts it forever`);
    }
  }
}

function checkScalable(model: ComposeModel, svc: ServiceView, where: string, findings: Findings): void {
  if (svc.raw.container_name !== undefined) findings.error(where, 'a scalable service cannot set container_name');
  const ports = Array.isArray(svc.raw.ports) ? (svc.raw.ports as unknown[]) : [];
  for (const p of ports) {
    const published =
      typeof p === 'string' || typeof p === 'number'
        ? hostPort(interpolate(String(p), model.env))
        : isRecord(p) && (typeof p.published === 'string' || typeof p.published === 'number')
          ? String(p.published)
          : undefined;
    if (published) findings.error(`${where}.ports`, `a scalable service cannot publish fixed host port ${published}`);
  }
}

/** "127.0.0.1:8080:80" -> "8080"; "80" or "80/udp" -> undefined (ephemeral host port). */
function hostPort(spec: string): string | undefined {
  const parts = splitOutsideBraces(spec.replace(/\/(tcp|udp|sctp)$/, ''), ':');
  return parts.length >= 2 ? parts[parts.length - 2] || undefined : undefined;
}

function checkCycles(model: ComposeModel, findings: Findings): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      findings.error(model.file, `depends_on cycle: ${[...path, name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const dep of Object.keys(model.services.get(name)?.dependsOn ?? {})) {
      if (model.services.has(dep)) visit(dep, [...path, name]);
    }
    state.set(name, 'done');
  };
  for (const name of model.services.keys()) visit(name, []);
}

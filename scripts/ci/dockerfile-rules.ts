import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { loadDockerIgnore, type DockerIgnore } from './dockerignore';
import { commandWords, healthcheckCommand, parseCopy, parseDockerfile, type CopyInstruction, type Stage } from './dockerfile-parse';
import { isRecord, isStringArray, type Findings } from './findings';

// What `docker build` would trip over, checked without an engine: COPY sources that do
// not exist or that .dockerignore leaves out, files `npm run build` needs, the runtime
// stage's user, healthcheck and entry scripts, and secrets kept out of the context.

const MUST_IGNORE = ['.env', '.git', 'node_modules'];

export interface DockerfileReport {
  /** The final stage declares a HEALTHCHECK (compose may wait on service_healthy). */
  hasHealthcheck: boolean;
}

export function checkDockerfile(root: string, fileName: string, findings: Findings): DockerfileReport {
  const file = join(root, fileName);
  if (!existsSync(file)) {
    findings.error(fileName, 'file not found');
    return { hasHealthcheck: false };
  }
  const stages = parseDockerfile(readFileSync(file, 'utf8'));
  const ignore = loadDockerIgnore(root);
  const final = stages[stages.length - 1];
  if (!final) {
    findings.error(fileName, 'no FROM instruction');
    return { hasHealthcheck: false };
  }
  for (const name of MUST_IGNORE) {
    if (!ignore.excludes(name)) findings.error('.dockerignore', `must exclude ${name} (it would be sent to the build and may end up in the image)`);
  }
  stages.forEach((stage) => checkCopies(root, fileName, stages, stage, ignore, findings));
  if (stages.some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args)))) {
    checkBuildInputs(root, ignore, findings);
  }
  return checkRuntime(root, fileName, final, findings);
}

function checkCopies(root: string, fileName: string, stages: Stage[], stage: Stage, ignore: DockerIgnore, findings: Findings): void {
  const earlier = stages.slice(0, stage.index);
  for (const ins of stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
    const copy = parseCopy(ins);
    const where = `${fileName}:${ins.line}`;
    if (copy.from !== undefined) {
      const known = earlier.some((s) => s.name === copy.from || String(s.index) === copy.from);
      if (!known && !/[:/]/.test(copy.from)) findings.error(where, `--from=${copy.from} is not an earlier stage`);
      continue;
    }
    if (copy.sources.length === 0) findings.error(where, `${ins.keyword} needs a source and a destination`);
    for (const source of copy.sources) {
      if (/^https?:\/\//.test(source)) continue;
      const rel = posix
        .normalize(source)
        .replace(/^\.\/?/, '')
        .replace(/\/$/, '');
      if (rel === '' || rel === '.') continue;
      const probe = rel.includes('*') ? rel.slice(0, rel.indexOf('*')).replace(/[^/]*$/, '') : rel;
      if (!existsSync(join(root, probe))) findings.error(where, `source ${source} does not exist in the build context`);
      else if (ignore.excludes(rel)) findings.error(where, `source ${source} is excluded by .dockerignore (${ignore.decidingPattern(rel)})`);
    }
  }
}

/** Files package.json's build script and tsconfig.build.json need inside the context. */
function checkBuildInputs(root: string, ignore: DockerIgnore, findings: Findings): void {
  const needed = new Set(['package.json', 'package-lock.json']);
  const pkg = readJson(join(root, 'package.json'));
  const build = isRecord(pkg) && isRecord(pkg.scripts) ? pkg.scripts.build : undefined;
  if (typeof build !== 'string') {
    findings.error('package.json', 'the Dockerfile runs `npm run build` but package.json has no build script');
    return;
  }
  for (const word of build.split(/[\s&|;]+/)) {
    if (/^[\w.-]+(\/[\w.-]+)+$|^[\w-]+\.(json|ts|sql)$/.test(word) && !word.startsWith('dist')) {
      if (existsSync(join(root, word))) needed.add(word);
      else findings.error('package.json', `the build script uses ${word}, which does not exist`);
    }
  }
  const project = /-p\s+(\S+)/.exec(build)?.[1];
  if (project) {
    needed.add(project);
    const tsconfig = readJson(join(root, project));
    if (isRecord(tsconfig)) {
      if (typeof tsconfig.extends === 'string') needed.add(posix.normalize(tsconfig.extends));
      if (isStringArray(tsconfig.include)) tsconfig.include.forEach((p) => needed.add(p.replace(/\/\*\*.*$/, '')));
    }
  }
  for (const path of needed) {
    if (!existsSync(join(root, path))) continue;
    if (ignore.excludes(path)) {
      findings.error('.dockerignore', `excludes ${path}, which \`npm run build\` needs (${ignore.decidingPattern(path)})`);
    }
  }
}

function checkRuntime(root: string, fileName: string, final: Stage, findings: Findings): DockerfileReport {
  const where = `${fileName} (final stage)`;
  const user = [...final.instructions].reverse().find((i) => i.keyword === 'USER');
  if (!user || /^(root|0)(:|$)/.test(user.args.trim())) findings.error(where, 'must switch to a non-root USER');
  const hc = [...final.instructions].reverse().find((i) => i.keyword === 'HEALTHCHECK');
  const hcCommand = hc ? healthcheckCommand(hc.args) : undefined;
  if (hcCommand === undefined) findings.error(where, 'needs a HEALTHCHECK');

  const workdir =
    [...final.instructions]
      .reverse()
      .find((i) => i.keyword === 'WORKDIR')
      ?.args.trim() ?? '/';
  const copies = final.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy);
  const commands = final.instructions
    .filter((i) => i.keyword === 'ENTRYPOINT' || i.keyword === 'CMD')
    .map((i) => ({ line: i.line, words: commandWords(i.args) }));
  if (hc && hcCommand) commands.push({ line: hc.line, words: commandWords(hcCommand) });

  for (const { line, words } of commands) {
    for (const word of words.filter((w) => /\.(sh|js|mjs|cjs)$/.test(w))) {
      const inImage = posix.isAbsolute(word) ? word : posix.join(workdir, word);
      const repoPath = contextPathFor(root, copies, workdir, inImage);
      if (repoPath === undefined) {
        findings.error(`${fileName}:${line}`, `${word} is not copied into the image from the build context`);
      } else if (!existsSync(join(root, repoPath))) {
        findings.error(`${fileName}:${line}`, `${word} comes from ${repoPath}, which does not exist`);
      } else if (repoPath.endsWith('.sh')) {
        checkScriptTargets(root, repoPath, findings);
      }
    }
  }
  return { hasHealthcheck: hcCommand !== undefined };
}

/** The context path a COPY (without --from) puts at `inImage`, if any. */
function contextPathFor(root: string, copies: CopyInstruction[], workdir: string, inImage: string): string | undefined {
  for (const copy of copies.filter((c) => c.from === undefined).reverse()) {
    const dest = posix.normalize(posix.isAbsolute(copy.dest) ? copy.dest : posix.join(workdir, copy.dest)).replace(/\/$/, '');
    for (const source of copy.sources) {
      const src = posix.normalize(source).replace(/\/$/, '');
      const abs = join(root, src);
      if (existsSync(abs) && statSync(abs).isDirectory()) {
        // COPY <dir> <dest> puts the directory's contents in <dest>.
        if (inImage.startsWith(`${dest}/`)) return posix.join(src, posix.relative(dest, inImage));
      } else {
        const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
        if (inImage === (intoDir ? posix.join(dest, basename(src)) : dest)) return src;
      }
    }
  }
  return undefined;
}

/** Entry scripts run `node dist/<x>.js`: the TypeScript source `<x>.ts` must exist. */
function checkScriptTargets(root: string, script: string, findings: Findings): void {
  const text = readFileSync(join(root, script), 'utf8');
  for (const match of text.matchAll(/\bdist\/([\w/.-]+)\.js\b/g)) {
    const source = `${match[1] ?? ''}.ts`;
    if (source === 'workflow-bundle.ts') continue;
    if (!existsSync(join(root, source))) findings.error(script, `runs dist/${match[1] ?? ''}.js, but ${source} does not exist`);
  }
}

function readJson(file: string): unknown {
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  // tsconfig files may carry comments.
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

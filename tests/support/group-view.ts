import type { GroupView as ApiGroupView } from '../../cli/group-commands';
import { eventually } from './stack';

/** GET /v1/group-messages/:id as the tests read it: the CLI's view of it, and what only tests look at. */
export interface GroupView extends ApiGroupView {
  workflow_id: string;
  progress: { materialized: number; started: number };
  [key: string]: unknown;
}

/** Polls a group through `getGroup` until `done` holds, and returns the view that met it. */
export const waitForGroupView = (getGroup: (id: string) => Promise<GroupView>, id: string, done: (g: GroupView) => boolean, timeoutMs = 120_000) =>
  eventually(
    async () => {
      const g = await getGroup(id);
      return done(g) ? g : undefined;
    },
    timeoutMs,
    250,
  );

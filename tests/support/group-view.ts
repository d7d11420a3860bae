import type { GroupView as ApiGroupView } from '../../cli/group-commands';

/** GET /v1/group-messages/:id as the tests read it: the CLI's view of it, and what only tests look at. */
export interface GroupView extends ApiGroupView {
  workflow_id: string;
  progress: { materialized: number; started: number };
  [key: string]: unknown;
}

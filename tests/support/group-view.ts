/** GET /v1/group-messages/:id as the tests read it. */
export interface GroupView {
  id: string;
  status: string;
  mode: string;
  total: number;
  queued: number;
  sending: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  undelivered: number;
  remaining: number;
  workflow_id: string;
  progress: { materialized: number; started: number };
  send_rate_per_second: number;
  eta_seconds: number | null;
  [key: string]: unknown;
}

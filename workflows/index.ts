// Entry point of the workflow bundle: every workflow the worker runs.
export { dispatchMessage } from './dispatch-message';
export { groupFanout } from './group-fanout';
export { partitionMaintenance } from './partition-maintenance';
export { recordExpiry } from './record-expiry';
export { sweepOutboxWorkflow } from './outbox-sweeper';
export { replayMessages } from './replay-messages';

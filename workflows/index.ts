// Entry point of the workflow bundle: every workflow the worker runs.
export { dispatchMessage } from './dispatch-message';

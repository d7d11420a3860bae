// The API starts message workflows with the same code the outbox sweeper and replays use.
export * from '../activities/dispatch-start';

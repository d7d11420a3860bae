import { expect } from 'vitest';

/** The error a send rejected with; fails the test when the send succeeded. */
export async function sendError(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('send should have failed'),
    (err: unknown) => err,
  );
}

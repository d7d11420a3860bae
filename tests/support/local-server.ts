// Real HTTP servers for specs: stand-ins for a provider's API and our side of its callbacks.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export interface LocalServer {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/** A server on a free local port; `handle` gets each request once its whole body has arrived. */
export async function startLocalServer(handle: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<LocalServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Wraps a server factory so that every server it starts in a test is closed after that test. */
export function closedAfterEach<A extends unknown[], S extends { close(): Promise<void> }>(start: (...args: A) => Promise<S>): (...args: A) => Promise<S> {
  const open: S[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (...args) => {
    const server = await start(...args);
    open.push(server);
    return server;
  };
}

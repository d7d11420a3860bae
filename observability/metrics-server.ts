import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

/**
 * A process's /metrics on a port of its own. The worker's: its registry, followed by the
 * Temporal SDK's exporter output (`temporal_*`, fetched from `sdkMetricsUrl` on each scrape)
 * so one scrape target per worker carries both. Without the SDK exporter (the API) it serves
 * the registry alone.
 */
export async function startMetricsServer(opts: {
  registry: Registry;
  port: number;
  host?: string;
  sdkMetricsUrl?: string;
  logger: Logger;
}): Promise<Server & { url: string }> {
  let sdkDown = false;
  const sdkMetrics = async (): Promise<string> => {
    if (!opts.sdkMetricsUrl) return '';
    try {
      const res = await fetch(opts.sdkMetricsUrl, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      sdkDown = false;
      return await res.text();
    } catch (err) {
      if (!sdkDown) opts.logger.warn({ event: 'sdk_metrics_unavailable', err: (err as Error).message });
      sdkDown = true;
      return '';
    }
  };

  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    Promise.all([opts.registry.metrics(), sdkMetrics()]).then(
      ([own, sdk]) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(sdk ? `${own.trimEnd()}\n\n${sdk}` : own),
      (err: unknown) => {
        opts.logger.error({ event: 'metrics_failed', err: (err as Error).message });
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !opts.host || opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return Object.assign(server, { url: `http://${host}:${port}/metrics` });
}

/** A port nothing listens on right now (for the SDK exporter, which needs a fixed one). */
export async function freeLocalPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

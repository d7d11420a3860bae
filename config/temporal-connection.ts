import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { Config } from '.';

/** Connection options for the client and the worker: address, TLS/mTLS and API key from the config. */
export interface TemporalConnectionOptions {
  address?: string;
  apiKey?: string;
  tls?: TLSConfig;
}

export function temporalConnectionOptions(config: Pick<Config, 'temporalAddress' | 'temporalTls'>): TemporalConnectionOptions {
  const t = config.temporalTls;
  if (!t.enabled) return { address: config.temporalAddress };
  return {
    address: config.temporalAddress,
    apiKey: t.apiKey,
    tls: {
      serverNameOverride: t.serverName,
      serverRootCACertificate: t.serverCaCertPath ? readFileSync(t.serverCaCertPath) : undefined,
      clientCertPair: t.clientCertPath && t.clientKeyPath ? { crt: readFileSync(t.clientCertPath), key: readFileSync(t.clientKeyPath) } : undefined,
    },
  };
}

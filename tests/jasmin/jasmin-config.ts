import { join } from 'node:path';

export interface JasminPorts {
  /** HTTP API (Jasmin's default 1401). */
  http: number;
  /** jCli telnet console (default 8990). */
  jcli: number;
  /** RouterPB (default 8988). */
  router: number;
  /** SMPPClientManagerPB (default 8989). */
  clientManagement: number;
  /** Jasmin's own SMPP server (default 2775); unused by the tests but always started by jasmind. */
  smppServer: number;
  smppServerPb: number;
}

export interface JasminConfigInput {
  dir: string;
  ports: JasminPorts;
  redis: { host: string; port: number };
  amqp: { host: string; port: number; username: string; password: string; vhost: string; spec: string };
  logLevel: string;
  overrides: Record<string, Record<string, string | number>>;
}

/**
 * jasmin.cfg for one test instance. Jasmin's defaults are tuned for production (30 s retry
 * delays, 10 s DLR lookup retries); here they are seconds or less so failure paths finish
 * inside a test, while keeping Jasmin's own retry *behaviour*.
 */
export function jasminConfig(c: JasminConfigInput): string {
  const store = join(c.dir, 'store');
  const local = (port: number) => ({ bind: '127.0.0.1', port });
  const sections: Record<string, Record<string, string | number>> = {
    'smpp-server': local(c.ports.smppServer),
    'smpp-server-pb': local(c.ports.smppServerPb),
    'smpp-server-pb-client': { host: '127.0.0.1', port: c.ports.smppServerPb },
    'client-management': { ...local(c.ports.clientManagement), store_path: store },
    router: { ...local(c.ports.router), store_path: store },
    'http-api': { ...local(c.ports.http), long_content_max_parts: 5, long_content_split: 'udh' },
    jcli: local(c.ports.jcli),
    'amqp-broker': { ...c.amqp, connection_loss_retry_delay: 1 },
    'redis-client': { host: c.redis.host, port: c.redis.port, poolsize: 10 },
    'sm-listener': {
      // Jasmin requeues throttled submits itself; 1 s instead of 30 s keeps the behaviour and the test short.
      submit_error_retrial:
        "{'ESME_RSYSERR': {'count': 2, 'delay': 1}, 'ESME_RTHROTTLED': {'count': 20, 'delay': 1}, 'ESME_RMSGQFUL': {'count': 2, 'delay': 1}}",
      submit_retrial_delay_smppc_not_ready: 1,
    },
    // A receipt can beat its submit_sm_resp's mapping through the lookup queue; Jasmin retries the
    // lookup. Same 20 s window as its defaults (10 s × 2), in finer steps; a shorter one lost receipts under load.
    dlr: { dlr_lookup_retry_delay: 2, dlr_lookup_max_retries: 10 },
    'dlr-thrower': { http_timeout: 10, retry_delay: 1, max_retries: 3 },
    'deliversm-thrower': { http_timeout: 10, retry_delay: 1, max_retries: 3 },
  };
  for (const name of Object.keys(sections)) sections[name] = { log_level: c.logLevel, ...sections[name] };
  for (const [name, values] of Object.entries(c.overrides)) sections[name] = { ...sections[name], ...values };
  return Object.entries(sections)
    .map(
      ([name, values]) =>
        `[${name}]\n${Object.entries(values)
          .map(([k, v]) => `${k} = ${v}`)
          .join('\n')}\n`,
    )
    .join('\n');
}

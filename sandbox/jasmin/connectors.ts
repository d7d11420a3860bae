// What Jasmin tells about its SMPP client connectors: the management REST API
// as jookies/jasmin-api serves it (Django REST framework over jCli, HTTP Basic
// auth, `{"detail": ...}` errors; only the `smppccm -l` / `smppccm -s` reads are
// played), and the connector counters of the HTTP API's /metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { reply, sameSecret } from './http-util';

export interface JasminSimConnector {
  cid: string;
  /** jCli's service column. */
  status: 'started' | 'stopped';
  /** SMPP session state as jCli lists it: BOUND_TRX, BOUND_TX, NONE, UNBOUND, ... */
  session: string;
}

export interface ManagementState {
  admins: ReadonlyArray<{ username: string; password: string }>;
  connectors: readonly JasminSimConnector[];
}

const UNAUTHENTICATED = { 'WWW-Authenticate': 'Basic realm="api"' };

export function managementApi(req: IncomingMessage, path: string, res: ServerResponse, state: ManagementState): void {
  const match = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return reply(res, 401, 'application/json', '{"detail": "Authentication credentials were not provided."}', UNAUTHENTICATED);
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const [user, pass] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  if (colon < 0 || !state.admins.some((a) => a.username === user && sameSecret(pass, a.password))) {
    return reply(res, 401, 'application/json', '{"detail": "Invalid username/password."}', UNAUTHENTICATED);
  }
  if (req.method !== 'GET') return reply(res, 405, 'application/json', JSON.stringify({ detail: `Method "${req.method}" not allowed.` }));
  if (path === '/api/smppsconns/') {
    return reply(res, 200, 'application/json', JSON.stringify({ connectors: state.connectors.map(connectorView) }));
  }
  const one = /^\/api\/smppsconns\/([^/]+)\/$/.exec(path);
  if (!one?.[1]) return reply(res, 404, 'application/json', '{"detail": "Not found."}');
  const cid = decodeURIComponent(one[1]);
  const connector = state.connectors.find((c) => c.cid === cid);
  // SMPPCCMViewSet.get_smppccm raises ObjectNotFoundError (404) for an unknown cid.
  if (!connector) return reply(res, 404, 'application/json', JSON.stringify({ detail: `Unknown connector: ${cid}` }));
  return reply(res, 200, 'application/json', JSON.stringify({ connector: connectorView(connector) }));
}

/** SMPPCCMViewSet.retrieve: `smppccm -s` keys as strings plus the `smppccm -l` columns. */
function connectorView(c: JasminSimConnector): Record<string, string> {
  return {
    cid: c.cid,
    host: '127.0.0.1',
    port: '2775',
    username: 'smppclient1',
    password: 'password',
    bind: 'transceiver',
    submit_throughput: '1',
    dlr_expiry: '86400',
    status: c.status,
    session: c.session,
    starts: c.status === 'started' ? '1' : '0',
    stops: '0',
  };
}

/** HELP texts of jasmin/protocols/http/endpoints/metrics.py for the client-connector counters we play. */
const SMPPC_METRICS: ReadonlyArray<[string, string]> = [
  ['connected_count', 'Cumulated number of successful connections.'],
  ['disconnected_count', 'Cumulated number of disconnections.'],
  ['bound_count', 'Number of bound sessions.'],
];

/**
 * The HTTP API's /metrics (Prometheus text, no auth), smppc_* part. A bound connector
 * has connected and bound once; a stopped one has also disconnected; a started one
 * that is not bound is still trying to connect.
 */
export function metricsText(connectors: readonly JasminSimConnector[], sends: number): string {
  const counts = (c: JasminSimConnector): Record<string, number> => {
    if (c.status === 'stopped') return { connected_count: 1, disconnected_count: 1, bound_count: 1 };
    return c.session.startsWith('BOUND_')
      ? { connected_count: 1, disconnected_count: 0, bound_count: 1 }
      : { connected_count: 0, disconnected_count: 0, bound_count: 0 };
  };
  const lines = ['# TYPE httpapi_request_count counter', '# HELP httpapi_request_count Http request count.', `httpapi_request_count ${sends}`];
  for (const [metric, help] of SMPPC_METRICS) {
    if (connectors.length === 0) break;
    lines.push(`# TYPE smppc_${metric} counter`, `# HELP smppc_${metric} ${help}`);
    for (const c of connectors) lines.push(`smppc_${metric}{cid="${c.cid}"} ${counts(c)[metric] ?? 0}`);
  }
  return `${lines.join('\n')}\n\n`;
}

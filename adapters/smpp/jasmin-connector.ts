// The SMPP client connector's state, from Jasmin's management REST API
// (jookies/jasmin-api: a Django app over jCli, `GET /api/smppsconns/{cid}/`,
// HTTP Basic auth) when there is one, else from the counters Jasmin's HTTP API
// exports on /metrics. Jasmin's send REST API (jasmin/protocols/rest) reports no connectors.
import { EgressRefusedError, shown, unreachable, type EgressPolicy } from '../egress';
import { basicAuth, joinUrl, parseJson, request, JasminTransportError } from './jasmin-http';

export interface ConnectorQuery {
  restApiUrl: string;
  connectorId: string;
  username?: string;
  password?: string;
  timeoutMs: number;
  egress: EgressPolicy;
}

export interface ConnectorState {
  ok: boolean;
  detail: string;
}

/** `status` is jCli's service column (started/stopped), `session` the SMPP session state (BOUND_TRX, NONE, ...). */
interface ConnectorView {
  connector?: { status?: unknown; session?: unknown };
}

export async function connectorState(q: ConnectorQuery): Promise<ConnectorState> {
  const name = `connector ${q.connectorId}`;
  let answer;
  try {
    answer = await request({
      method: 'GET',
      url: joinUrl(q.restApiUrl, `/api/smppsconns/${encodeURIComponent(q.connectorId)}/`),
      headers: q.username ? { Authorization: basicAuth(q.username, q.password ?? '') } : {},
      timeoutMs: q.timeoutMs,
      egress: q.egress,
    });
  } catch (err) {
    return { ok: false, detail: `${name}: ${failureDetail(err, 'jasmin management API')}` };
  }
  if (answer.status === 404) return { ok: false, detail: `${name} not found` };
  if (answer.status === 401 || answer.status === 403) {
    return { ok: false, detail: `${name}: management API refused the credentials (HTTP ${answer.status})` };
  }
  const view = parseJson(answer.body) as ConnectorView | undefined;
  const status = view?.connector?.status;
  const session = view?.connector?.session;
  if (answer.status !== 200 || typeof status !== 'string' || typeof session !== 'string') {
    return { ok: false, detail: `${name}: management API answered HTTP ${answer.status} without a connector` };
  }
  // Jasmin queues MT messages for a connector that is not bound and drops them once they are too old.
  const bound = session.startsWith('BOUND_');
  return { ok: status === 'started' && bound, detail: `${name} ${shown(status)}, ${bound ? 'bound' : 'not bound'} (${shown(session)})` };
}

/**
 * jasmin/protocols/http/endpoints/metrics.py exports, per client connector, cumulative
 * counters of connections made, binds and connections lost (jasmin/protocols/smpp/protocol.py).
 * A connection is open while more were made than lost; it carries a session once a bind succeeded.
 */
export async function connectorStateFromMetrics(q: { baseUrl: string; connectorId: string; timeoutMs: number; egress: EgressPolicy }): Promise<ConnectorState> {
  const name = `connector ${q.connectorId}`;
  let answer;
  try {
    answer = await request({ method: 'GET', url: joinUrl(q.baseUrl, '/metrics'), timeoutMs: q.timeoutMs, egress: q.egress });
  } catch (err) {
    return { ok: false, detail: `${name}: ${failureDetail(err, 'jasmin /metrics')}` };
  }
  if (answer.status !== 200) return { ok: false, detail: `${name}: /metrics answered HTTP ${answer.status}` };
  const counter = (metric: string): number | undefined => {
    const line = answer.body.split('\n').find((l) => l.startsWith(`smppc_${metric}{cid="${q.connectorId}"} `));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
  };
  const [connects, binds, losses] = [counter('connected_count'), counter('bound_count'), counter('disconnected_count')];
  if (connects === undefined || binds === undefined || losses === undefined) return { ok: false, detail: `${name} not found in /metrics` };
  const connected = connects > losses;
  const counts = `${connects} connects, ${binds} binds, ${losses} disconnects`;
  return { ok: connected && binds > 0, detail: `${name} ${connected ? 'connected' : 'not connected'} (/metrics: ${counts})` };
}

/** A refused target is named; every other failure to get an answer reads the same. */
export function failureDetail(err: unknown, what: string): string {
  if (err instanceof EgressRefusedError) return `egress_refused: ${err.message}`;
  if (err instanceof JasminTransportError || err instanceof Error) return unreachable(what);
  throw err;
}

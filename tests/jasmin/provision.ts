import type { JCli } from './jcli';

export interface JasminUserSpec {
  uid: string;
  username: string;
  password: string;
  /** Messages per second Jasmin's HTTP API accepts from this user (jCli quota http_throughput); unlimited when unset. */
  httpThroughput?: number;
}

export interface ConnectorSpec {
  /** 3-25 characters of [A-Za-z0-9_-] (Jasmin refuses others). */
  cid: string;
  host: string;
  port: number;
  systemId: string;
  password: string;
  /** submit_sm per second Jasmin allows itself on this bind; 0 = unlimited. */
  submitThroughput?: number;
}

export interface ProvisionSpec {
  gid: string;
  user: JasminUserSpec;
  connector: ConnectorSpec;
}

export interface ConnectorRow {
  cid: string;
  service: string;
  /** e.g. BOUND_TRX, NONE, OPEN, BOUND_TX */
  session: string;
  starts: number;
  stops: number;
}

/**
 * A group and user for the HTTP API, an SMPP client connector bound as transceiver to the
 * SMSC, started, and a DefaultRoute sending every MT through it; waits until it is bound.
 */
export async function provision(jcli: JCli, spec: ProvisionSpec, boundWithinMs = 15_000): Promise<void> {
  await jcli.dialogue('group -a', [['gid', spec.gid]], /Successfully added Group/);
  await addUser(jcli, spec.gid, spec.user);
  const c = spec.connector;
  await jcli.dialogue(
    'smppccm -a',
    [
      ['cid', c.cid],
      ['host', c.host],
      ['port', c.port],
      ['username', c.systemId],
      ['password', c.password],
      ['bind', 'transceiver'],
      ['submit_throughput', c.submitThroughput ?? 0],
      // Reconnect fast when the SMSC drops the link; Jasmin's 10 s default outlasts a test.
      ['con_loss_delay', 1],
      ['con_fail_delay', 1],
    ],
    /Successfully added connector/,
  );
  await startConnector(jcli, c.cid);
  await jcli.dialogue(
    'mtrouter -a',
    [
      ['type', 'DefaultRoute'],
      ['connector', `smppc(${c.cid})`],
      ['rate', '0.00'],
    ],
    /Successfully added MTRoute/,
  );
  await waitForSession(jcli, c.cid, 'BOUND_TRX', boundWithinMs);
}

export async function addUser(jcli: JCli, gid: string, u: JasminUserSpec): Promise<void> {
  const fields: Array<[string, string | number]> = [
    ['uid', u.uid],
    ['username', u.username],
    ['password', u.password],
    ['gid', gid],
  ];
  if (u.httpThroughput !== undefined) fields.push(['mt_messaging_cred quota http_throughput', u.httpThroughput]);
  await jcli.dialogue('user -a', fields, /Successfully added User/);
}

export async function startConnector(jcli: JCli, cid: string): Promise<void> {
  const out = await jcli.run(`smppccm -1 ${cid}`);
  if (!out.includes('Successfully started')) throw new Error(`jCli did not start connector ${cid}: ${out}`);
}

export async function stopConnector(jcli: JCli, cid: string): Promise<void> {
  const out = await jcli.run(`smppccm -0 ${cid}`);
  if (!out.includes('Successfully stopped')) throw new Error(`jCli did not stop connector ${cid}: ${out}`);
}

/** `smppccm -l`, parsed. */
export async function connectors(jcli: JCli): Promise<ConnectorRow[]> {
  const out = await jcli.run('smppccm -l');
  return out
    .split('\n')
    .filter((l) => l.startsWith('#') && !l.startsWith('#Connector id'))
    .map((l) => {
      const [cid = '', service = '', session = '', starts = '0', stops = '0'] = l.slice(1).trim().split(/\s+/);
      return { cid, service, session, starts: Number(starts), stops: Number(stops) };
    });
}

export async function waitForSession(jcli: JCli, cid: string, session: string, timeoutMs: number): Promise<ConnectorRow> {
  const deadline = Date.now() + timeoutMs;
  let last: ConnectorRow | undefined;
  for (;;) {
    last = (await connectors(jcli)).find((c) => c.cid === cid);
    if (last?.session === session) return last;
    if (Date.now() > deadline) throw new Error(`connector ${cid} not ${session} within ${timeoutMs} ms (last: ${last?.session ?? 'absent'})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

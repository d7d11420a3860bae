import { startSmsc, type SmscPeer } from '../../sandbox/smsc/server';
import { startStack, type StackOptions, type TestStack } from '../support/stack';
import { startJasminApiStandIn, type JasminApiStandIn } from './jasmin-api-stand-in';
import { startJasmin, type JasminInstance, type JasminOptions } from './jasmin-harness';
import { addUser, provision, type JasminUserSpec } from './provision';

export const SMSC_ACCOUNT = { systemId: 'turumba', password: 'smsc-pw1' } as const;
export const CONNECTOR_ID = 'smsc_peer';
export const JASMIN_GROUP = 'turumba';
export const JASMIN_USER: JasminUserSpec = { uid: 'turumba', username: 'turumba', password: 'jasmin-pw1' };
export const MANAGEMENT_API = { username: 'ops', password: 'ops-pw1' } as const;
export const SENDER = 'TURUMBA';

/** The SMPP leg for real: our SMSC peer, Jasmin bound to it, and (optionally) the engine in front. */
export interface JasminRig {
  smsc: SmscPeer;
  jasmin: JasminInstance;
  managementApi: JasminApiStandIn;
  /** Channel credentials for the engine's ("smpp","jasmin") adapter. */
  credentials(overrides?: Record<string, string>): Record<string, string>;
  /** Another Jasmin user in the same group (e.g. with an http_throughput quota). */
  addUser(user: JasminUserSpec): Promise<void>;
  close(): Promise<void>;
}

export async function startJasminRig(opts: { jasmin?: JasminOptions; receiptDelayMs?: number; messageId?: () => string } = {}): Promise<JasminRig> {
  const smsc = await startSmsc({ accounts: [SMSC_ACCOUNT], receiptDelayMs: opts.receiptDelayMs, messageId: opts.messageId });
  let jasmin: JasminInstance | undefined;
  let managementApi: JasminApiStandIn | undefined;
  try {
    jasmin = await startJasmin(opts.jasmin);
    const started = jasmin;
    const cli = await started.jcli();
    try {
      await provision(cli, {
        gid: JASMIN_GROUP,
        user: JASMIN_USER,
        connector: { cid: CONNECTOR_ID, host: smsc.host, port: smsc.port, systemId: SMSC_ACCOUNT.systemId, password: SMSC_ACCOUNT.password },
      });
    } finally {
      await cli.close();
    }
    managementApi = await startJasminApiStandIn({ jcli: () => started.jcli(), ...MANAGEMENT_API });
    const api = managementApi;
    return {
      smsc,
      jasmin: started,
      managementApi: api,
      credentials: (overrides = {}) => ({
        base_url: started.httpUrl,
        username: JASMIN_USER.username,
        password: JASMIN_USER.password,
        from: SENDER,
        dlr_level: '2',
        dlr_method: 'POST',
        rest_api_url: api.url,
        rest_api_username: MANAGEMENT_API.username,
        rest_api_password: MANAGEMENT_API.password,
        connector_id: CONNECTOR_ID,
        ...overrides,
      }),
      async addUser(user) {
        const c = await started.jcli();
        try {
          await addUser(c, JASMIN_GROUP, user);
        } finally {
          await c.close();
        }
      },
      async close() {
        await api.close();
        await started.stop();
        await smsc.close();
      },
    };
  } catch (err) {
    await managementApi?.close();
    await jasmin?.stop();
    await smsc.close();
    throw err;
  }
}

export interface JasminEngineStack {
  rig: JasminRig;
  stack: TestStack;
  /** POST /v1/channels for an ("smpp","jasmin") channel on the rig; returns its id. */
  createChannel(credentials?: Record<string, string>, extra?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startJasminEngineStack(opts: { stack?: StackOptions; jasmin?: JasminOptions } = {}): Promise<JasminEngineStack> {
  const rig = await startJasminRig({ jasmin: opts.jasmin });
  let stack: TestStack;
  try {
    stack = await startStack(opts.stack);
  } catch (err) {
    await rig.close();
    throw err;
  }
  return {
    rig,
    stack,
    async createChannel(credentials = rig.credentials(), extra = {}) {
      const channel = await stack.createChannel({ channel_type: 'smpp', provider: 'jasmin', name: 'jasmin smpp', credentials, ...extra });
      return channel.id;
    },
    async close() {
      await stack.close();
      await rig.close();
    },
  };
}

import { jasminAvailable } from './jasmin-harness';
import { startJasminRig } from './jasmin-stack';

// A real Jasmin bound to the SMSC peer, for trying the engine by hand (scripts/jasmin/start.sh).
// Prints the credentials of an ("smpp","jasmin") channel and runs until Ctrl-C.

async function main(): Promise<void> {
  const available = await jasminAvailable();
  if (!available.ok) throw new Error(available.reason);
  const rig = await startJasminRig({ jasmin: { logLevel: process.env.JASMIN_LOG_LEVEL === 'DEBUG' ? 'DEBUG' : 'INFO' }, receiptDelayMs: 500 });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`Jasmin ${rig.jasmin.version}: HTTP API ${rig.jasmin.httpUrl}, jCli 127.0.0.1:${rig.jasmin.ports.jcli} (jcliadmin/jclipwd)`);
  out(`SMSC peer ${rig.smsc.host}:${rig.smsc.port}; logs and config in ${rig.jasmin.dir}`);
  out('channel: {"channel_type":"smpp","provider":"jasmin","name":"jasmin","credentials":' + JSON.stringify(rig.credentials()) + '}');
  const stop = () => {
    void rig.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

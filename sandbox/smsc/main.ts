import { startSmsc } from './server';

// By hand: PORT=2775 SMSC_SYSTEM_ID=turumba SMSC_PASSWORD=smsc-pw1 npx tsx sandbox/smsc/main.ts

async function main(): Promise<void> {
  const peer = await startSmsc({
    host: process.env.HOST ?? '127.0.0.1',
    port: Number(process.env.PORT ?? 2775),
    accounts: [{ systemId: process.env.SMSC_SYSTEM_ID ?? 'turumba', password: process.env.SMSC_PASSWORD ?? 'smsc-pw1' }],
    receiptDelayMs: Number(process.env.RECEIPT_DELAY_MS ?? 200),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`SMSC peer listening on ${peer.host}:${peer.port}\n`);
  const stop = () => void peer.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});

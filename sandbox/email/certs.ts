// Throwaway X.509 material for the sandbox: the SMTP server's STARTTLS certificate and
// the "AWS SNS" signing certificate. node:crypto makes keys but not certificates, so
// the openssl CLI (present wherever Node's own TLS tests run) does the signing.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  /** PKCS#8 PEM private key. */
  key: string;
  /** PEM certificate. */
  cert: string;
}

export interface CertOptions {
  commonName?: string;
  /** subjectAltName DNS entries; IP 127.0.0.1 is always added. */
  dnsNames?: string[];
  days?: number;
}

export function selfSignedCertificate(opts: CertOptions = {}): SelfSigned {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dir = mkdtempSync(join(tmpdir(), 'turumba-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    writeFileSync(keyPath, key, { mode: 0o600 });
    const names = ['localhost', ...(opts.dnsNames ?? [])].map((n) => `DNS:${n}`);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-new',
        '-key',
        keyPath,
        '-out',
        certPath,
        '-days',
        String(opts.days ?? 2),
        '-subj',
        `/CN=${opts.commonName ?? 'localhost'}`,
        '-addext',
        `subjectAltName=${[...names, 'IP:127.0.0.1'].join(',')}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { key, cert: readFileSync(certPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

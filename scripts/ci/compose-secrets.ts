import type { ComposeModel } from './compose-model';
import { isStringArray, type Findings } from './findings';
import { isBareReference, tokenize } from './interpolation';

// Secrets reach containers only from .env: a secret-looking variable must be exactly one
// ${VAR} (or ${VAR:?message}) reference without a default, and no URL may carry a literal
// password. Anything else is a secret committed to git.

const SECRET_NAME = /(PASS(WORD)?|PASSWD|PWD|SECRET|TOKEN|(^|_)KEY|CREDENTIAL|PRIVATE)/i;
const NOT_A_SECRET = /_(FILE|PATH|USER|USERNAME|NAME|ID)$/i;
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/([^/@\s:]*):([^/@\s]+)@/gi;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_A_SECRET.test(name);
}

export function checkSecrets(model: ComposeModel, findings: Findings): void {
  for (const svc of model.services.values()) {
    const where = `${model.file} services.${svc.name}`;
    for (const [key, value] of Object.entries(svc.environment)) {
      if (value === null) continue;
      if (isSecretName(key) && !isBareReference(value)) {
        findings.error(
          `${where}.environment.${key}`,
          'looks like a secret but is not a bare ${VAR} reference (literal values and ${VAR:-default} commit the secret)',
        );
      }
      literalUrlPasswords(value).forEach(() => findings.error(`${where}.environment.${key}`, 'a URL with a literal password: use ${VAR} for the password'));
    }
    const commands = ['command', 'entrypoint'].flatMap((f) => {
      const v = svc.raw[f];
      return typeof v === 'string' ? [v] : isStringArray(v) ? v : [];
    });
    for (const text of commands) {
      if (literalUrlPasswords(text).length > 0) {
        findings.error(`${where}.command`, 'a URL with a literal password: use ${VAR} for the password');
      }
    }
  }
}

/** Passwords inside URLs that are not made only of ${VAR} references. */
export function literalUrlPasswords(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(URL_WITH_PASSWORD)) {
    const password = match[2] ?? '';
    const literal = tokenize(password).some((p) => 'literal' in p && p.literal !== '');
    if (literal) found.push(password);
  }
  return found;
}

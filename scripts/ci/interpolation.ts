// Docker Compose variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:?error}`,
// `${VAR:+alt}`, `$$` escape, nested defaults), the subset compose-go implements.

export type RefOperator = '' | ':-' | '-' | ':?' | '?' | ':+' | '+';

export interface VarRef {
  name: string;
  operator: RefOperator;
  /** The default / error message / alternative, uninterpolated. */
  arg: string;
  /** The reference as written, `${...}` or `$NAME`. */
  raw: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS: RefOperator[] = [':-', ':?', ':+', '-', '?', '+'];

type Part = { literal: string } | { ref: VarRef };

/** Splits a value into literal text and variable references; throws on an unclosed `${`. */
export function tokenize(value: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i];
    const next = value[i + 1];
    if (ch !== '$') {
      literal += ch;
      i += 1;
    } else if (next === '$') {
      literal += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(value, i + 2);
      if (end < 0) throw new Error(`unclosed \${ in "${value}"`);
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ ref: parseBraced(value.slice(i + 2, end), value.slice(i, end + 1)) });
      i = end + 1;
    } else {
      const name = NAME.exec(value.slice(i + 1))?.[0];
      if (!name) {
        literal += ch;
        i += 1;
        continue;
      }
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ ref: { name, operator: '', arg: '', raw: `$${name}` } });
      i += 1 + name.length;
    }
  }
  if (literal) parts.push({ literal });
  return parts;
}

function closingBrace(value: string, from: number): number {
  let depth = 1;
  for (let i = from; i < value.length; i += 1) {
    if (value[i] === '$' && value[i + 1] === '{') {
      depth += 1;
      i += 1;
    } else if (value[i] === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function parseBraced(body: string, raw: string): VarRef {
  const name = NAME.exec(body)?.[0];
  if (!name) throw new Error(`invalid variable reference ${raw}`);
  const rest = body.slice(name.length);
  if (rest === '') return { name, operator: '', arg: '', raw };
  const operator = OPERATORS.find((op) => rest.startsWith(op));
  if (!operator) throw new Error(`invalid variable reference ${raw}`);
  return { name, operator, arg: rest.slice(operator.length), raw };
}

/** Every reference in a value, including those nested in defaults. */
export function references(value: string): VarRef[] {
  return tokenize(value).flatMap((p) => ('ref' in p ? [p.ref, ...references(p.ref.arg)] : []));
}

/** The value compose would use with `env`; a missing required variable yields ''. */
export function interpolate(value: string, env: Env): string {
  return tokenize(value)
    .map((p) => {
      if ('literal' in p) return p.literal;
      const { name, operator, arg } = p.ref;
      const v = env[name];
      const unsetOrEmpty = v === undefined || v === '';
      switch (operator) {
        case ':-':
          return unsetOrEmpty ? interpolate(arg, env) : v;
        case '-':
          return v === undefined ? interpolate(arg, env) : v;
        case ':+':
          return unsetOrEmpty ? '' : interpolate(arg, env);
        case '+':
          return v === undefined ? '' : interpolate(arg, env);
        default:
          return v ?? '';
      }
    })
    .join('');
}

/** True when the whole value is one reference that cannot fall back to a literal. */
export function isBareReference(value: string): boolean {
  const parts = tokenize(value);
  if (parts.length !== 1) return false;
  const [only] = parts;
  return only !== undefined && 'ref' in only && ['', ':?', '?'].includes(only.ref.operator);
}

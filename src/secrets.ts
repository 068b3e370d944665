/**
 * Secrets the worker holds must not reach what it records: workflow histories (readable by
 * anyone with Web UI access, and stored by the server), error messages, worker logs, the kept
 * trainer.log. Our own credentials are kept out of external trainer processes altogether; any
 * other secret (cloud credentials a trainer may legitimately need) is passed on but masked by
 * value wherever output is kept: the values of secret-looking variables, credentials inside URLs
 * in any variable, and well-known secret shapes (keys, tokens, private key blocks) in any text.
 */
const OWN_SECRETS = ['TEMPORAL_API_KEY', 'MLOPS_PAYLOAD_KEY', 'MLOPS_PAYLOAD_PREVIOUS_KEYS', 'MLOPS_CODEC_TOKEN'];
const SECRET_NAME = /SECRET|TOKEN|PASS|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|_KEY$|^KEY$|DSN/i;
/** Names that match the above but hold where a secret is, not the secret (masking paths would garble every message). */
const NOT_SECRET_NAME = /(_PATH|_FILE|_DIR|_SOCK)$|^XAUTHORITY$|^GOOGLE_APPLICATION_CREDENTIALS$/i;
/** Shorter values would mask ordinary words and numbers in logs. */
const MIN_SECRET_LENGTH = 6;
export const MASK = '***';

/** user:password@ in any URL (up to the authority's last @: a raw @ in a password is masked whole); the user stays readable. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s/]+)(@)/gi;
const PRIVATE_KEY_BLOCK = /(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** Shapes that are secrets wherever they appear; the capture before the secret is kept. */
const SECRET_SHAPES: RegExp[] = [
  /\b()(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\b((?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/gi, // AWS secret keys, as printed in config
  /\b(Bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*/gi,
  /\b(Basic\s+)[A-Za-z0-9+/]{8,}={0,2}/g,
  /\b()gh[pousr]_[A-Za-z0-9]{30,}\b/g, // GitHub tokens
  /\b()xox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /\b()sk-[A-Za-z0-9_-]{20,}/g, // API keys of the sk-… kind
  /\b()eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /((?<![A-Za-z0-9])(?:[A-Za-z0-9]+_)*(?:password|passwd|pwd|secret|token|api_?key|access_?key)["']?\s*[:=]\s*["']?)[^\s"',;&]{4,}/gi, // key=value, DB_PASSWORD=… too
];

/** The environment for a child process the user configured (an external trainer): ours removed. */
export function childEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !OWN_SECRETS.includes(name)));
}

/**
 * Values to mask, longest first (so a secret containing another is masked whole): every value of a
 * secret-looking variable (and its comma-separated parts), and the password of any URL in any variable.
 */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name)) values.push(value, ...value.split(',').map((v) => v.trim()));
    for (const m of value.matchAll(URL_CREDENTIALS)) values.push(m[2]!, safeDecode(m[2]!));
  }
  return [...new Set(values.filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Text with every secret masked: by value (the environment's), by URL credentials, by shape. */
export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return redactWith(text, secretValues(env));
}

/** Every shape above needs one of these; most log lines have none and skip the regexes. */
const MAYBE_SHAPED = /[:=@]|-----|AKIA|ASIA|AGPA|AIDA|AROA|Bearer|Basic|gh[pousr]_|xox|sk-|eyJ/i;

function redactWith(text: string, values: readonly string[]): string {
  let out = text;
  for (const secret of values) if (out.includes(secret)) out = out.replaceAll(secret, MASK);
  if (!MAYBE_SHAPED.test(out)) return out;
  out = out.replace(URL_CREDENTIALS, `$1${MASK}$3`);
  out = out.replace(PRIVATE_KEY_BLOCK, (_all, begin: string, end: string) => `${begin}${MASK}${end}`);
  for (const shape of SECRET_SHAPES) out = out.replace(shape, `$1${MASK}`);
  return out;
}

const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Masks a stream of lines (a trainer's output): a private key spans lines, so the lines between
 * its BEGIN and END markers are masked whole. `skip` follows a line without masking it (output
 * that is not kept), so that what comes after is still judged right.
 */
export class LineMasker {
  private inPrivateKey = false;
  /** Taken once: the environment a trainer was started with does not change under it. */
  private readonly values: string[];

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.values = secretValues(env);
  }

  line(text: string): string {
    if (this.inPrivateKey) {
      if (text.includes('-----END') && KEY_END.test(text)) {
        this.inPrivateKey = false;
        return redactWith(text.replace(/^[\s\S]*?(-----END)/, `${MASK}$1`), this.values);
      }
      return MASK;
    }
    const masked = redactWith(text, this.values);
    if (text.includes('-----BEGIN') && KEY_BEGIN.test(text) && !KEY_END.test(text)) this.inPrivateKey = true;
    return masked;
  }

  /** Follows a line that is not kept; returns whether it was inside a private key. */
  skip(text: string): boolean {
    const inside = this.inPrivateKey;
    if (inside ? text.includes('-----END') && KEY_END.test(text) : text.includes('-----BEGIN') && KEY_BEGIN.test(text) && !KEY_END.test(text)) {
      this.inPrivateKey = !inside;
    }
    return inside;
  }

  /** Masks a line followed earlier with `skip`. */
  mask(text: string, insidePrivateKey: boolean): string {
    return insidePrivateKey ? MASK : redactWith(text, this.values);
  }
}

/**
 * Secrets the worker holds must not reach what it records: workflow histories (readable by
 * anyone with Web UI access), error messages, model cards. Our own credentials are kept out of
 * external trainer processes altogether; any other secret-looking environment value (cloud
 * credentials a trainer may legitimately need) is passed on but masked in what we record.
 */
const OWN_SECRETS = ['TEMPORAL_API_KEY', 'MLOPS_PAYLOAD_KEY', 'MLOPS_PAYLOAD_PREVIOUS_KEYS', 'MLOPS_CODEC_TOKEN'];
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL|_KEY$/i;
/** Shorter values would mask ordinary words and numbers in logs. */
const MIN_SECRET_LENGTH = 8;

/** The environment for a child process the user configured (an external trainer): ours removed. */
export function childEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !OWN_SECRETS.includes(name)));
}

/** Values of secret-looking variables, longest first (so a secret containing another is masked whole). */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value && value.length >= MIN_SECRET_LENGTH)
    .flatMap(([, value]) => value!.split(',').map((v) => v.trim()))
    .filter((v) => v.length >= MIN_SECRET_LENGTH);
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

export function redactSecrets(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  for (const secret of secretValues(env)) out = out.replaceAll(secret, '***');
  return out;
}

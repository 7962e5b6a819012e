// Where `${secretsmanager:...}` and `${ssm:...}` values come from: the AWS SDK v3 clients, imported
// only when a config uses a reference, so `swr-migrate sync` without one does not load them.
// Resolved here rather than with @middy/secrets-manager / @middy/ssm: the CLI (and `work` on EC2 or
// in a container) loads the same config without middy, and one code path keeps one error wording.
// The SDK finds its endpoint by itself (AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM, then
// AWS_ENDPOINT_URL: the SDK's "service-specific endpoints", present in 3.116x), its credentials
// (Lambda's role, env, profile) and its region (AWS_REGION); an ARN's own region wins over AWS_REGION.
import { awsClient } from '../aws/clients.js';
import { printable } from '../text.js';

/** A failed look-up, worded for `FILE: path: <reason>`; never holds a secret value. */
export class SecretLookupError extends Error {}

export interface SecretStore {
  /** The SecretString of a Secrets Manager secret (name or ARN). */
  secretString(id: string): Promise<string>;
  /** The decrypted value of an SSM parameter (name or ARN). */
  parameter(name: string): Promise<string>;
}

/** `arn:aws:secretsmanager:eu-west-1:...` -> `eu-west-1`; undefined for a plain name. */
export function arnRegion(id: string): string | undefined {
  return id.startsWith('arn:') ? id.split(':')[3] || undefined : undefined;
}

// Errors the services document for these calls, with the permission or fix each one calls for.
// The SDK gives the service's `__type` as the error's name.
function lookupFailure(service: 'sm' | 'ssm', what: string, err: unknown): SecretLookupError {
  const name = (err as { name?: string }).name ?? 'Error';
  const where = service === 'sm' ? 'Secrets Manager' : 'SSM Parameter Store';
  const grant = service === 'sm' ? 'secretsmanager:GetSecretValue' : 'ssm:GetParameter';
  switch (name) {
    case 'ResourceNotFoundException':
    case 'ParameterNotFound':
      return new SecretLookupError(`${what} not found in ${where} (${name})`);
    case 'AccessDeniedException':
      return new SecretLookupError(`${what}: access denied by ${where} (${name}): allow ${grant} on it, and kms:Decrypt on its KMS key`);
    case 'DecryptionFailure':
    case 'InvalidKeyId':
      return new SecretLookupError(`${what}: ${where} could not decrypt it (${name}): allow kms:Decrypt on its KMS key`);
  }
  const message = printable((err as Error).message ?? '', 200);
  const hint = /region/i.test(message) ? ': set AWS_REGION' : /credential/i.test(message) ? ': give AWS credentials (a role, AWS_PROFILE or AWS_ACCESS_KEY_ID)' : '';
  return new SecretLookupError(`${what}: cannot read it from ${where} (${name}${message ? `: ${message}` : ''})${hint}`);
}

type SmClient = import('@aws-sdk/client-secrets-manager').SecretsManagerClient;
type SsmClient = import('@aws-sdk/client-ssm').SSMClient;

/** The real store; one client per service and region, created on first use. */
export function awsSecretStore(): SecretStore {
  const sm = new Map<string, Promise<SmClient>>();
  const ssm = new Map<string, Promise<SsmClient>>();
  const clientFor = <C>(cache: Map<string, Promise<C>>, region: string | undefined, make: (region: string | undefined) => Promise<C>) => {
    const k = region ?? '';
    let c = cache.get(k);
    if (!c) cache.set(k, (c = make(region)));
    return c;
  };
  return {
    async secretString(id) {
      const what = `secret "${id}"`;
      try {
        const mod = await import('@aws-sdk/client-secrets-manager');
        const region = arnRegion(id);
        const client = await clientFor(sm, region, async (r) => awsClient(new mod.SecretsManagerClient(r ? { region: r } : {})));
        const out = await client.send(new mod.GetSecretValueCommand({ SecretId: id }));
        if (typeof out.SecretString !== 'string') {
          throw new SecretLookupError(`${what} has no SecretString (a binary secret): store the credential as text or JSON`);
        }
        return out.SecretString;
      } catch (err) {
        throw err instanceof SecretLookupError ? err : lookupFailure('sm', what, err);
      }
    },
    async parameter(name) {
      const what = `parameter "${name}"`;
      try {
        const mod = await import('@aws-sdk/client-ssm');
        const region = arnRegion(name);
        const client = await clientFor(ssm, region, async (r) => awsClient(new mod.SSMClient(r ? { region: r } : {})));
        const out = await client.send(new mod.GetParameterCommand({ Name: name, WithDecryption: true }));
        const value = out.Parameter?.Value;
        if (typeof value !== 'string') throw new SecretLookupError(`${what} has no value in SSM Parameter Store`);
        return value;
      } catch (err) {
        throw err instanceof SecretLookupError ? err : lookupFailure('ssm', what, err);
      }
    },
  };
}

/**
 * Once per process: each secret or parameter is fetched at most once (a warm Lambda container, a
 * second loadConfig), and look-ups of the same one at the same time share the request. A failure
 * is not kept, so the next cold start (or a retry) asks again.
 */
export function cachedSecretStore(inner: SecretStore): SecretStore & { clear(): void } {
  const cache = new Map<string, Promise<string>>();
  const once = (key: string, fetch: () => Promise<string>): Promise<string> => {
    let p = cache.get(key);
    if (!p) {
      p = fetch();
      cache.set(key, p);
      p.catch(() => cache.delete(key));
    }
    return p;
  };
  return {
    secretString: (id) => once(`secretsmanager\0${id}`, () => inner.secretString(id)),
    parameter: (name) => once(`ssm\0${name}`, () => inner.parameter(name)),
    clear: () => cache.clear(),
  };
}

/** The process's store, used by loadConfig unless a test gives its own. */
export const processSecretStore = cachedSecretStore(awsSecretStore());

// The async step of loading a config with secret references: every distinct secret and parameter is
// fetched once, all at once (cold start pays the slowest look-up, not their sum), then substituted
// into the credentials they belong to. Every failure is listed as `FILE:LINE:COL: path: reason`, naming the
// secret; a value never reaches a message (a JSON parse error would quote it, so none is shown).
import { ConfigError } from '../errors.js';
import type { RegistryAccess } from '../registry/pool.js';
import type { CredentialTemplate, SecretRef } from './secret-refs.js';
import { attachSwrKeys } from '../vendors/swr/config.js';
import { processSecretStore, SecretLookupError, type SecretStore } from './secret-store.js';

/** A registry whose credentials wait for secrets; `where(field)` is `FILE:LINE:COL: registries.HOST.field` for messages. */
export interface SecretSlot {
  where: (field: 'username' | 'password' | 'accessKey' | 'secretKey') => string;
  access: RegistryAccess;
  username: CredentialTemplate;
  password: CredentialTemplate;
  /** username/password hold an SWR accessKey/secretKey: derive the login from them (access.swr). */
  swrKeys?: boolean;
}

const fetchKey = (ref: SecretRef): string => (ref.kind === 'ssm' ? `ssm\0${ref.name}` : `secretsmanager\0${ref.id}`);

/** A JSON secret's field as text; a reason when the secret is not such an object. */
function jsonField(raw: string, ref: SecretRef & { kind: 'secretsmanager'; key: string }): string {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new SecretLookupError(`secret "${ref.id}" is not JSON, so it has no key "${ref.key}": drop "#${ref.key}" to use the whole secret`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SecretLookupError(`secret "${ref.id}" is not a JSON object, so it has no key "${ref.key}"`);
  }
  if (!Object.hasOwn(doc, ref.key)) {
    // Key names are not secret, and listing them is what makes a typo obvious.
    const keys = Object.keys(doc).slice(0, 20).map((k) => JSON.stringify(k)).join(', ');
    throw new SecretLookupError(`secret "${ref.id}" has no JSON key "${ref.key}" (its keys: ${keys || 'none'})`);
  }
  const v = (doc as Record<string, unknown>)[ref.key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new SecretLookupError(`secret "${ref.id}" key "${ref.key}" is not a string`);
}

/** Fetches every reference of every slot and sets `access.credentials`; throws one ConfigError listing all failures. */
export async function resolveSecretSlots(slots: SecretSlot[], file: string, store: SecretStore = processSecretStore): Promise<void> {
  if (!slots.length) return;
  const fetched = new Map<string, Promise<string>>();
  for (const slot of slots) {
    for (const part of [...slot.username, ...slot.password]) {
      if (typeof part === 'string' || fetched.has(fetchKey(part))) continue;
      const p = part.kind === 'ssm' ? store.parameter(part.name) : store.secretString(part.id);
      p.catch(() => undefined); // awaited below; a rejection must not go unhandled in between
      fetched.set(fetchKey(part), p);
    }
  }
  await Promise.allSettled(fetched.values());

  const problems: string[] = [];
  const render = async (template: CredentialTemplate, where: string): Promise<string | undefined> => {
    let out = '';
    let ok = true;
    for (const part of template) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      try {
        const raw = await fetched.get(fetchKey(part))!;
        out += part.kind === 'secretsmanager' && part.key !== undefined ? jsonField(raw, { ...part, key: part.key }) : raw;
      } catch (err) {
        if (!(err instanceof SecretLookupError)) throw err;
        problems.push(`${where}: ${err.message}`);
        ok = false;
      }
    }
    return ok ? out : undefined;
  };
  for (const slot of slots) {
    const username = await render(slot.username, slot.where(slot.swrKeys ? 'accessKey' : 'username'));
    const password = await render(slot.password, slot.where(slot.swrKeys ? 'secretKey' : 'password'));
    if (username !== undefined && password !== undefined) {
      slot.access.credentials = slot.swrKeys && slot.access.swr ? attachSwrKeys(slot.access.swr, username, password) : { username, password };
    }
  }
  if (problems.length) throw new ConfigError(`cannot resolve the secrets of ${file}`, problems);
}

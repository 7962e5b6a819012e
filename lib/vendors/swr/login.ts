// SWR docker logins. A long-term login is derived from an IAM access key (Huawei "Obtaining a
// Long-Term Valid Login Command"): username `<project>@<AK>`, password the lowercase hex
// HMAC-SHA256 of the AK keyed with the SK. A ready login copied from the console is used as is.
import { createHmac } from 'node:crypto';
import type { Credentials } from '../../registry/auth/auth.js';

/** The password of the long-term login; never log it (it is as good as the SK for pulls and pushes). */
export function swrLoginPassword(accessKey: string, secretKey: string): string {
  return createHmac('sha256', secretKey).update(accessKey).digest('hex');
}

/** `{ username: 'cn-north-4@AK…', password: hmac }`; `project` is the IAM project name (default: region id). */
export function swrLongTermLogin(project: string, accessKey: string, secretKey: string): Credentials {
  return { username: `${project}@${accessKey}`, password: swrLoginPassword(accessKey, secretKey) };
}

/**
 * SWR's token challenge names the repository with an EMPTY action list (`repository:ns/repo:`), so a
 * client that echoes the challenge's scope gets a token with no rights. Fill it with the actions we
 * need: `pull` for sources, `pull,push` for destinations. Other scopes pass through unchanged.
 * swr-migrate itself never echoes a challenge's scope (auth.ts builds it from the client's actions,
 * test/integration/swr-token-refusal.test.ts); this is for scopes taken from elsewhere.
 */
export function swrScope(scope: string, push = true): string {
  const m = /^(repository(?:\([^)]*\))?):(.+):([^:]*)$/.exec(scope);
  if (!m) return scope;
  const [, kind, name, actions] = m as unknown as [string, string, string, string];
  const want = push ? ['pull', 'push'] : ['pull'];
  const have = actions.split(',').filter((a) => a.length > 0);
  const merged = [...want, ...have.filter((a) => !want.includes(a))];
  return `${kind}:${name}:${merged.join(',')}`;
}

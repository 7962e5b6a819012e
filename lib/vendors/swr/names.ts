// SWR naming rules, checked before any byte moves (a bad name otherwise fails late, as a 400
// SVCSTG.SWR.4001028/4001029 or a 401 DENIED token on a missing organization), and the mapping of
// source repositories into SWR's few organizations (default quota: 5 per account).
import { ErrorCode, MigrateError } from '../../errors.js';
import { applyTemplate } from '../../plan/mapping.js';

export class SwrNameError extends MigrateError {
  constructor(readonly offending: string, readonly rule: string) {
    super(ErrorCode.SWR_NAME, `SWR name "${offending}": ${rule}`);
  }
}

const SEP = /[._-]/;

/** Organization (namespace): 1-64 chars, `[a-z][a-z0-9._-]*`, ending alphanumeric, no adjacent separators. */
export function organizationProblem(org: string): string | undefined {
  if (org.length < 1 || org.length > 64) return `an organization name has 1-64 characters, this has ${org.length}`;
  if (!/^[a-z]/.test(org)) return 'an organization name starts with a lowercase letter';
  if (!/^[a-z0-9._-]+$/.test(org)) return 'an organization name has only lowercase letters, digits, ".", "_" and "-"';
  if (!/[a-z0-9]$/.test(org)) return 'an organization name ends with a letter or digit';
  for (let i = 1; i < org.length; i++) if (SEP.test(org[i]!) && SEP.test(org[i - 1]!)) return 'an organization name has no two separators in a row';
  return undefined;
}

/** Repository (below the organization): 1-128 chars, components like organizations' joined by `/`. */
export function repositoryProblem(repo: string): string | undefined {
  if (repo.length < 1 || repo.length > 128) return `a repository name has 1-128 characters, this has ${repo.length}`;
  for (const part of repo.split('/')) {
    if (part === '') return 'a repository name has no empty path component (no leading, trailing or double "/")';
    if (!/^[a-z0-9._-]+$/.test(part)) return 'a repository name has only lowercase letters, digits, ".", "_", "-" and "/"';
    if (!/^[a-z0-9]/.test(part) || !/[a-z0-9]$/.test(part)) return 'each repository path component starts and ends with a letter or digit';
    for (let i = 1; i < part.length; i++) if (SEP.test(part[i]!) && SEP.test(part[i - 1]!)) return 'a repository name has no two separators in a row';
  }
  return undefined;
}

/** Throws SwrNameError for `<org>/<repo>` (the SWR path below the host) that SWR would refuse. */
export function assertSwrPath(path: string): { organization: string; repository: string } {
  const slash = path.indexOf('/');
  if (slash < 0) throw new SwrNameError(path, 'an SWR image is <organization>/<repository>');
  const organization = path.slice(0, slash);
  const repository = path.slice(slash + 1);
  const o = organizationProblem(organization);
  if (o) throw new SwrNameError(organization, o);
  const r = repositoryProblem(repository);
  if (r) throw new SwrNameError(repository, r);
  return { organization, repository };
}

/** Management API paths carry `/` in a repository name as `$` (terraform-provider-huaweicloud swr_repository). */
export function encodeRepositoryForApi(repo: string): string {
  return encodeURIComponent(repo.replaceAll('/', '$')).replaceAll('%24', '$');
}

export type SwrMapping =
  /** `bitnami/redis` -> `<org>/bitnami/redis`: every source namespace nests under one organization. */
  | { kind: 'nest'; organization: string }
  /** `bitnami/redis` -> `<org>/<template>`, template over `{namespace}`, `{name}`, `{path}`. */
  | { kind: 'template'; organization: string; template: string };

/**
 * Maps a source repository path (e.g. `bitnami/redis`, `library/nginx`) to an SWR path and checks
 * it; the template's fields are those of lib/plan/mapping.ts (`{namespace}`, `{name}`, `{path}`).
 */
export function mapToSwr(source: string, mapping: SwrMapping): string {
  const repo = mapping.kind === 'nest' ? source.toLowerCase() : applyTemplate(mapping.template, '', source);
  const out = `${mapping.organization}/${repo}`;
  assertSwrPath(out);
  return out;
}

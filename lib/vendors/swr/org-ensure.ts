// "Make sure the organization exists before the first push" (issue 8, item 3). SWR refuses a push
// (401 DENIED at the token endpoint) into an organization that does not exist, and organizations are
// capped per account (default 5, SVCSTG.SWR.4000097), so the planner checks the quota for the whole
// plan up front, before any image is copied, and creates each missing organization once.
import { ErrorCode, SwrOrgError } from '../../errors.js';
import { canPush, type SwrManagementClient } from './management.js';

export type OrgState = 'created' | 'present';

export class OrgEnsurer {
  private readonly inFlight = new Map<string, Promise<OrgState>>();
  constructor(private readonly client: SwrManagementClient) {}

  /**
   * Quota pre-check for the set of destination organizations of a plan: fails (SWRM_SWR_ORG_QUOTA)
   * naming the organizations to create when they do not fit. Organizations visible in our list
   * count as present. Where the quota endpoint does not answer, the check is skipped and a
   * 4000097 on create reports the same error.
   */
  async quotaCheck(orgs: Iterable<string>): Promise<{ missing: string[]; free?: number; listed: Map<string, number> }> {
    const wanted = [...new Set(orgs)].sort();
    const listed = new Map((await this.client.namespaceList()).map((n) => [n.name, n.auth]));
    const missing = wanted.filter((o) => !listed.has(o));
    if (missing.length === 0) return { missing, listed };
    const quota = await this.client.quotaNamespace();
    if (!quota) return { missing, listed };
    const free = Math.max(0, quota.quota_limit - quota.used);
    if (missing.length > free) throw this.quotaError(missing, free, quota.quota_limit);
    return { missing, free, listed };
  }

  /** Ensure one organization exists and is pushable; concurrent callers for one name share a request. */
  ensure(org: string): Promise<OrgState> {
    let p = this.inFlight.get(org);
    if (!p) {
      p = this.create(org);
      this.inFlight.set(org, p);
      // A failure is not cached: the next plan (or a retried message) asks again.
      p.catch(() => this.inFlight.delete(org));
    }
    return p;
  }

  /** Quota check, then ensure every organization (each once). */
  async ensureAll(orgs: Iterable<string>): Promise<Map<string, OrgState>> {
    const wanted = [...new Set(orgs)].sort();
    const { listed } = await this.quotaCheck(wanted);
    // Listed with push rights: nothing to create (a scheduled run costs one list call, not a POST per
    // organization). Listed read-only, or missing: through ensure, which creates or explains.
    const states = await Promise.all(wanted.map((o) => (canPush(listed.get(o) ?? 0) ? Promise.resolve<OrgState>('present') : this.ensure(o))));
    return new Map(wanted.map((o, i) => [o, states[i]!]));
  }

  private async create(org: string): Promise<OrgState> {
    const result = await this.client.namespaceCreate(org);
    if (result === 'created') return 'created';
    if (result === 'quota') throw this.quotaError([org], 0);
    // 409: names are unique per region, so it may be ours or someone else's. GET tells: it is
    // invisible (404) or read-only (auth 1) when another account owns it.
    const ns = await this.client.namespaceGet(org);
    if (!ns || !canPush(ns.auth)) {
      throw new SwrOrgError(
        ErrorCode.SWR_ORG_NO_PUSH,
        `SWR organization "${org}" on ${this.client.host} exists but this account cannot push there`
          + `${ns ? ` (permission ${ns.auth}: read only)` : ' (owned by another account)'}; choose another organization name`,
        [org],
      );
    }
    return 'present';
  }

  private quotaError(missing: string[], free: number, limit?: number): SwrOrgError {
    return new SwrOrgError(
      ErrorCode.SWR_ORG_QUOTA,
      `SWR organization quota on ${this.client.host}: the plan needs ${missing.length} new organization(s) `
        + `(${missing.join(', ')}) but ${free} can be created${limit !== undefined ? ` (limit ${limit})` : ''}; `
        + 'delete unused organizations, raise the quota, or map the images into existing ones',
      missing,
    );
  }
}

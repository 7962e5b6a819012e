// The DNS half of the link-local refusal (issue 6, item 5). `address.ts` judges literal IPs in URLs,
// but a name such as `169.254.169.254.nip.io`, or a rebinding DNS server, points at the metadata
// service just as well. This wraps the resolver handed to `net.connect` (undici passes its `connect`
// options through), so the address actually connected to is checked, after DNS, every time.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { UnsafeRedirectError } from '../../errors.js';
import { isLinkLocalOrMetadata } from './address.js';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type LookupFunction = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback) => void;

/**
 * A `lookup` for undici's `connect` options that fails with SWRM_UNSAFE_REDIRECT when a name resolves
 * to a link-local or metadata address, unless `allow(hostname)` says that host may (its registry
 * entry has `allowLinkLocal`).
 */
export function guardedLookup(allow: (hostname: string) => boolean, resolve: LookupFunction = dnsLookup as unknown as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      const all = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      const bad = all.find((a) => isLinkLocalOrMetadata(a.address));
      if (bad && !allow(hostname)) {
        const refusal = new UnsafeRedirectError(hostname, bad.address, 'it resolves to a link-local or cloud metadata address (set allowLinkLocal for this registry to allow it)');
        return callback(refusal as unknown as NodeJS.ErrnoException, address, family);
      }
      callback(null, address, family);
    });
  };
}

// The DNS guard, with a fake resolver: names that resolve to link-local or metadata addresses are
// refused. (test/integration/dns-guard.test.ts runs it under undici.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UnsafeRedirectError } from '../../lib/errors.js';
import { guardedLookup, type LookupFunction } from '../../lib/registry/http/lookup.js';

const zone: Record<string, string> = {
  'metadata.evil.test': '169.254.169.254',
  'v6.evil.test': 'fd00:ec2::254',
  'fine.test': '127.0.0.1',
};
const fake: LookupFunction = (hostname, options, callback) => {
  const address = zone[hostname];
  if (!address) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
  const family = address.includes(':') ? 6 : 4;
  if ((options as { all?: boolean }).all) callback(null, [{ address, family }]);
  else callback(null, address, family);
};

function resolveWith(lookup: LookupFunction, hostname: string, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => lookup(hostname, all ? { all: true } : {}, (err, address) => (err ? reject(err) : resolve(address))));
}

describe('guarded lookup', () => {
  for (const all of [false, true]) {
    test(`refuses link-local and metadata results (all: ${all})`, async () => {
      const lookup = guardedLookup(() => false, fake);
      for (const name of ['metadata.evil.test', 'v6.evil.test']) {
        await assert.rejects(resolveWith(lookup, name, all), (e: unknown) =>
          e instanceof UnsafeRedirectError && e.code === 'SWRM_UNSAFE_REDIRECT' && e.message.startsWith(`${name} pointed to ${zone[name]}`));
      }
      assert.deepEqual(await resolveWith(lookup, 'fine.test', all), all ? [{ address: '127.0.0.1', family: 4 }] : '127.0.0.1');
      assert.equal(await resolveWith(guardedLookup((h) => h === 'metadata.evil.test', fake), 'metadata.evil.test', false), '169.254.169.254');
    });
  }
});

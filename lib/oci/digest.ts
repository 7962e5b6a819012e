// Content digests (OCI image-spec descriptor.md "Digests"). We accept only the two registered
// algorithms: a registry verifies uploads with them, and anything else would be a digest we could
// neither compute nor verify while streaming.

import { createHash } from 'node:crypto';
import { ManifestInvalidError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

/**
 * Encoded length per algorithm. The image spec requires lowercase hex (`[a-f0-9]{64}` for sha256),
 * and go-digest's Validate, used by distribution, rejects uppercase too.
 */
const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const LOWER_HEX = /^[a-f0-9]+$/;

/** Why `s` is not a digest we can use, or undefined when it is one. */
export function digestProblem(s: string): string | undefined {
  const colon = s.indexOf(':');
  if (colon <= 0) return 'a digest has the form <algorithm>:<hex>';
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (!Object.hasOwn(HEX_LENGTH, algorithm)) {
    return `unsupported digest algorithm "${algorithm}" (only sha256 and sha512 are registered)`;
  }
  const expected = HEX_LENGTH[algorithm as DigestAlgorithm];
  if (!LOWER_HEX.test(hex)) return `${algorithm} digests are lowercase hexadecimal`;
  if (hex.length !== expected) {
    return `${algorithm} digests have ${expected} hex characters, got ${hex.length}`;
  }
  return undefined;
}

export function isDigest(s: string): boolean {
  return digestProblem(s) === undefined;
}

/** Returns `s` unchanged when it is a valid digest; `what` names it in the error ("layer digest"). */
export function assertDigest(s: string, what = 'digest'): string {
  const problem = digestProblem(s);
  if (problem !== undefined) throw new ManifestInvalidError(`${what} "${s}" is invalid: ${problem}`);
  return s;
}

export function digestAlgorithm(d: string): DigestAlgorithm {
  return assertDigest(d).slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: string): string {
  return assertDigest(d).slice(d.indexOf(':') + 1);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** The digest registries use for manifests (`Docker-Content-Digest`) and, in practice, blobs. */
export function sha256Digest(bytes: Uint8Array): string {
  return digestOf(bytes, 'sha256');
}

// Hash while streaming, and hold back the last chunk until the digest is proven. The upload is a
// single PUT with Content-Length, so a body that ends short is never committed by the registry: when
// the bytes do not match, the final chunk is never sent and the request fails instead. This holds
// even against a registry that does not verify digests itself.
import { createHash } from 'node:crypto';
import { DigestMismatchError, SizeMismatchError } from '../errors.js';
import { digestAlgorithm } from '../oci/digest.js';
import { streamedBytes } from './memory.js';

export async function* verifiedStream(
  source: AsyncIterable<Uint8Array>,
  digest: string,
  size: number,
  onProgress?: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  const hash = createHash(digestAlgorithm(digest));
  let held: Uint8Array | undefined;
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > size) throw new SizeMismatchError(digest, size, seen);
    hash.update(chunk);
    streamedBytes(chunk.length);
    if (held) {
      onProgress?.(held.length);
      yield held;
    }
    held = chunk;
  }
  if (seen !== size) throw new SizeMismatchError(digest, size, seen);
  const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
  if (actual !== digest) throw new DigestMismatchError(digest, actual);
  if (held) {
    onProgress?.(held.length);
    yield held;
  }
}

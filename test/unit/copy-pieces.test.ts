import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { verifiedStream } from '../../lib/copy/verified-stream.js';
import { BlobLedger } from '../../lib/copy/ledger.js';
import { Limiter, mapLimit } from '../../lib/copy/limiter.js';
import { DigestMismatchError, SizeMismatchError } from '../../lib/errors.js';
import { loadAuthFile, normalisePrefix, parseAuthEntries, resolverFromEntries } from '../../lib/config/auth-file.js';
import { ConfigError } from '../../lib/errors.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function drain(it: AsyncIterable<Uint8Array>): Promise<{ sent: number; error?: unknown }> {
  let sent = 0;
  try {
    for await (const c of it) sent += c.length;
  } catch (error) {
    return { sent, error };
  }
  return { sent };
}

describe('verifiedStream', () => {
  const data = Buffer.alloc(300_000, 7);
  const chunks = () => Readable.from([data.subarray(0, 100_000), data.subarray(100_000, 200_000), data.subarray(200_000)]);
  test('passes every byte through when the digest matches', async () => {
    const r = await drain(verifiedStream(chunks(), sha(data), data.length));
    assert.equal(r.error, undefined);
    assert.equal(r.sent, data.length);
  });
  test('a wrong digest fails before the last chunk is released', async () => {
    const bad = Buffer.from(data);
    bad[250_000] = (bad[250_000] ?? 0) ^ 1;
    const r = await drain(verifiedStream(chunks(), sha(bad), data.length));
    assert.ok(r.error instanceof DigestMismatchError);
    assert.ok(r.sent < data.length, `sent ${r.sent} of ${data.length}: the upload would be complete`);
  });
  test('more bytes than the descriptor says fails early', async () => {
    const r = await drain(verifiedStream(chunks(), sha(data), 150_000));
    assert.ok(r.error instanceof SizeMismatchError);
  });
  test('fewer bytes fails', async () => {
    const r = await drain(verifiedStream(chunks(), sha(data), data.length + 1));
    assert.ok(r.error instanceof SizeMismatchError);
  });
});

describe('BlobLedger', () => {
  test('knows holders per registry and heals on forget', () => {
    const l = new BlobLedger();
    l.add('r1', 'a', 'sha256:x');
    assert.equal(l.has('r1', 'a', 'sha256:x'), true);
    assert.equal(l.has('r2', 'a', 'sha256:x'), false);
    assert.equal(l.mountSource('r1', 'sha256:x', 'b'), 'a');
    assert.equal(l.mountSource('r1', 'sha256:x', 'a'), undefined);
    l.forget('r1', 'a', 'sha256:x');
    assert.equal(l.has('r1', 'a', 'sha256:x'), false);
  });
  test('exclusive runs one operation per digest; others wait and get undefined', async () => {
    const l = new BlobLedger();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = l.exclusive('r', 'd', async () => {
      runs++;
      await gate;
      return 'done';
    });
    const second = l.exclusive('r', 'd', async () => {
      runs++;
      return 'second';
    });
    release();
    assert.equal(await first, 'done');
    assert.equal(await second, undefined);
    assert.equal(runs, 1);
  });
});

describe('Limiter', () => {
  test('never runs more than its size at once', async () => {
    const lim = new Limiter(2);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        lim.run(async () => {
          peak = Math.max(peak, ++active);
          await new Promise((r) => setTimeout(r, 5));
          active--;
        }),
      ),
    );
    assert.equal(peak, 2);
  });
  test('mapLimit keeps order and rejects with the first failure', async () => {
    assert.deepEqual(await mapLimit([1, 2, 3], 2, async (x) => x * 2), [2, 4, 6]);
    await assert.rejects(mapLimit([1, 2], 2, async (x) => (x === 2 ? Promise.reject(new Error('two')) : x)), /two/);
  });
});

describe('image-syncer auth file', () => {
  const entries = parseAuthEntries(
    {
      'quay.io': { username: 'q', password: '$QPASS' },
      'quay.io/coreos': { username: 'c', password: '${CPASS}' },
      'https://index.docker.io/v1/': { username: 'd', password: 'p' },
      '127.0.0.1:5000': { insecure: true },
    },
    'auth.json',
    { QPASS: 'qp', CPASS: 'cp' },
  );
  const resolve = resolverFromEntries(entries);
  test('longest prefix wins, on path boundaries', () => {
    assert.deepEqual(resolve('quay.io', 'coreos/etcd').credentials, { username: 'c', password: 'cp' });
    assert.deepEqual(resolve('quay.io', 'coreosx/etcd').credentials, { username: 'q', password: 'qp' });
    assert.deepEqual(resolve('quay.io', 'other/x').credentials, { username: 'q', password: 'qp' });
  });
  test('docker.io aliases normalise', () => {
    assert.equal(normalisePrefix('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(resolve('docker.io', 'library/alpine').credentials?.username, 'd');
  });
  test('insecure without credentials is anonymous plain HTTP', () => {
    const a = resolve('127.0.0.1:5000', 'x/y');
    assert.equal(a.insecure, true);
    assert.equal(a.credentials, undefined);
  });
  test('no entry: anonymous, HTTPS', () => {
    assert.deepEqual(resolve('ghcr.io', 'x/y'), {});
  });
  test('a missing variable is named', () => {
    assert.throws(
      () => parseAuthEntries({ 'a.io': { username: 'u', password: '${NOPE_VAR}' } }, 'auth.yaml', {}),
      (e: unknown) => e instanceof ConfigError && /NOPE_VAR/.test(e.message) && /a\.io\.password/.test(e.message),
    );
  });
  test('a syntax error never quotes the file (it holds passwords)', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'swrm-authsyntax-'));
    try {
      for (const [name, text] of [
        ['auth.json', '{"a.io": {"username": "u", "password": s3cretPass}}'],
        ['auth.yaml', 'a.io:\n  password: s3cretPass: nested\n  username: u\n'],
      ] as const) {
        writeFileSync(join(dir, name), text);
        await assert.rejects(loadAuthFile(join(dir, name), {}), (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.doesNotMatch(e.message, /s3cret|assword/);
          assert.match(e.message, /syntax error/);
          return true;
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('unknown keys are reported with their path', () => {
    assert.throws(
      () => parseAuthEntries({ 'a.io': { user: 'u' } }, 'auth.yaml', {}),
      (e: unknown) => e instanceof ConfigError && /auth\.yaml: a\.io/.test(e.message),
    );
  });
});

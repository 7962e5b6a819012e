// A throwaway PKI for TLS tests: one self-signed CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate for mutual TLS, all made with openssl (as token-server.ts
// does). A second, unrelated CA signs a "stranger" client certificate the registry must refuse.
// EC P-256 keys: generating them is instant, where RSA costs up to a second on a busy machine.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates (what a user passes as caFile). */
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Another CA, unrelated to the registry's certificate. */
  otherCaFile: string;
  /** A client certificate from the other CA: an mTLS registry trusting `caFile` refuses it. */
  strangerCert: string;
  strangerKey: string;
}

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', ...EC, '-subj', `/CN=${name}`, '-days', '2', '-keyout', key, '-out', cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

async function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, ext: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, `${ext}\n`);
  await run('openssl', ['req', ...EC, '-subj', `/CN=${name}`, '-keyout', key, '-out', csr]);
  // A random serial per certificate: -CAcreateserial shares one ca.srl file, and certificates issued
  // at once race on it (openssl then fails reading a half-written serial: "a2i_ASN1_INTEGER:short line").
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2',
    '-extfile', extFile, '-out', cert,
  ]);
  return { cert, key };
}

let pki: Promise<TestPki> | undefined;

/** One PKI per test process (removed at exit). */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swrm-pki-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const ca = await makeCa(dir, 'swrm-test-ca');
    const other = await makeCa(dir, 'swrm-other-ca');
    const [server, client, stranger] = await Promise.all([
      makeLeaf(dir, 'server', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'),
      makeLeaf(dir, 'client', ca, 'extendedKeyUsage=clientAuth'),
      makeLeaf(dir, 'stranger', other, 'extendedKeyUsage=clientAuth'),
    ]);
    return {
      dir,
      caFile: ca.cert,
      otherCaFile: other.cert,
      serverCert: server.cert,
      serverKey: server.key,
      clientCert: client.cert,
      clientKey: client.key,
      strangerCert: stranger.cert,
      strangerKey: stranger.key,
    };
  })();
  return pki;
}

// TLS settings of a registry: extra CAs (`caFile`), a client certificate for mutual TLS (`certFile` +
// `keyFile`), or no verification (`insecure`). Registries with the same settings share one profile,
// hence one dispatcher and one secure context, built once: a `ca` option per connection would make
// Node parse its ~140 bundled roots again on every handshake.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createSecureContext, rootCertificates, type ConnectionOptions } from 'node:tls';
import type { buildConnector as buildConnectorType } from 'undici';
import { TlsError } from '../../errors.js';
import { buildConnector } from './undici-agent.js';

export interface TlsProfile {
  insecure?: boolean | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export type Connector = buildConnectorType.connector;

/** Registries with equal keys can share a dispatcher. */
export function tlsProfileKey(p: TlsProfile): string {
  return JSON.stringify([p.insecure === true, p.caFile ?? '', p.certFile ?? '', p.keyFile ?? '']);
}

export type ReadFile = (path: string) => string;
const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

/**
 * The CAs a `ca` option must repeat, since it replaces Node's default store: the bundled roots and
 * NODE_EXTRA_CA_CERTS (often a corporate TLS-inspecting proxy's CA). Node has already warned about
 * an unreadable NODE_EXTRA_CA_CERTS at start-up, so it is skipped quietly here.
 */
function defaultCas(env: NodeJS.ProcessEnv, read: ReadFile): string[] {
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (!extra) return [...rootCertificates];
  try {
    return [...rootCertificates, read(extra)];
  } catch {
    return [...rootCertificates];
  }
}

/** The last part of an OpenSSL message ("error:0480006C:PEM routines::no start line" -> "no start line"). */
function shortReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return (e.message ?? String(err)).split('::').pop()!.trim();
}

function readPem(registry: string, option: string, path: string, read: ReadFile): string {
  try {
    return read(path);
  } catch (err) {
    throw new TlsError(registry, `cannot read ${option} ${path} for registry ${registry} (${shortReason(err)})`, false, { cause: err });
  }
}

/**
 * Node TLS options for a profile. Reads and checks the files now, so a wrong path or a key that
 * does not match its certificate is one error naming the file, before any connection is tried.
 */
export function tlsConnectOptions(registry: string, p: TlsProfile, read: ReadFile = readUtf8, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const opts: ConnectionOptions = {};
  if (p.insecure) opts.rejectUnauthorized = false;
  if (!p.caFile && !p.certFile && !p.keyFile) return opts;
  if ((p.certFile === undefined) !== (p.keyFile === undefined)) {
    throw new TlsError(registry, `registry ${registry}: give both certFile and keyFile for a client certificate`);
  }
  let ca: string | undefined;
  if (p.caFile) {
    ca = readPem(registry, 'caFile', p.caFile, read);
    try {
      new X509Certificate(ca); // the first certificate of the bundle parses
      createSecureContext({ ca }); // and so do the others
    } catch (err) {
      throw new TlsError(registry, `caFile ${p.caFile} for registry ${registry} is not a PEM certificate bundle (${shortReason(err)})`, false, { cause: err });
    }
  }
  const cert = p.certFile ? readPem(registry, 'certFile', p.certFile, read) : undefined;
  const key = p.keyFile ? readPem(registry, 'keyFile', p.keyFile, read) : undefined;
  try {
    // A private CA is trusted besides the public ones (a registry's token realm or blob storage may
    // be public), as containers/image does with certs.d/*.crt.
    opts.secureContext = createSecureContext({ ...(ca ? { ca: [...defaultCas(env, read), ca] } : {}), cert, key });
  } catch (err) {
    throw new TlsError(registry, `certFile ${p.certFile} and keyFile ${p.keyFile} for registry ${registry} cannot be used (${shortReason(err)})`, false, { cause: err });
  }
  return opts;
}

/**
 * undici's connector, plus one repair. Go's crypto/tls (distribution, Harbor) checks a client
 * certificate only after the TLS 1.3 handshake has completed on our side, so its refusal is an alert
 * on an established socket. undici then fails the request with "other side closed", the socket's
 * 'end' overwriting the alert: hang the alert on that error as its `cause`, so `tlsFailure` can
 * tell the user to set certFile and keyFile instead of retrying a connection reset.
 */
export function tlsConnector(options: buildConnectorType.BuildOptions): Connector {
  const inner = buildConnector(options);
  return (opts, callback) =>
    inner(opts, (...args) => {
      const socket = args[1];
      if (socket && opts.protocol === 'https:') keepAlert(socket);
      callback(...args);
    });
}

function keepAlert(socket: Socket): void {
  let alert: Error | undefined;
  socket.on('error', (err: Error & { code?: string; cause?: unknown }) => {
    if (alert === undefined && err.code?.startsWith('ERR_SSL_')) alert = err;
    else if (alert !== undefined && err !== alert && err.cause === undefined) err.cause = alert;
  });
}

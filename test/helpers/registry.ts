// Starts a real CNCF distribution registry (Debian's `docker-registry`, 2.8.2) on a free loopback
// port, with no auth, htpasswd basic auth, or token auth, optionally over HTTPS (`http.tls`, with
// `clientcas` for mutual TLS), and exposes its access log so tests can count the requests a client made.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { stopAllTracked, track } from './cleanup.js';
import { startTokenServer, type TokenServerHandle } from './token-server.js';

export type AuthKind = 'none' | 'basic' | 'token';
export interface AccessLogEntry { method: string; path: string; status: number }

export interface RegistryHandle {
  kind: AuthKind;
  host: string;
  url: string;
  username?: string;
  password?: string;
  dataDir: string;
  log(): AccessLogEntry[];
  settle(): Promise<void>;
  mark(): number;
  requestsSince(mark: number): AccessLogEntry[];
  stop(): Promise<void>;
  token?: TokenServerHandle;
  /** HTTPS registries: a dispatcher that trusts the test CA (and presents the client certificate). */
  dispatcher?: Dispatcher;
}

/** distribution's `http.tls`: the registry serves HTTPS only, on the same port. */
export interface RegistryTls {
  certificate: string;
  key: string;
  /** The CA that signed `certificate`, trusted by the harness's readiness probe and `dispatcher`. */
  ca: string;
  /** Mutual TLS: client certificates must be signed by one of these CAs. */
  clientCas?: string[];
  /** The certificate the harness itself presents to a mutual-TLS registry. */
  clientCert?: string;
  clientKey?: string;
}

export interface StartOptions {
  auth?: AuthKind;
  username?: string;
  password?: string;
  deleteEnabled?: boolean;
  tls?: RegistryTls;
  /** Token auth: OAuth2 refresh tokens (identity tokens) the token server accepts, -> user. */
  refreshTokens?: Record<string, string>;
}

// Readiness probes carry this user agent and are dropped from log(), so a fresh handle's log is empty.
const PROBE_UA = 'swrm-harness-probe';
// Apache combined format, as written by distribution's gorilla/handlers (verified on 2.8.2):
// 127.0.0.1 - - [29/Nov/2026:13:09:33 +0000] "HEAD /v2/foo/manifests/latest?x=1 HTTP/1.1" 404 96 "" "curl/7.88.1"
const LOG_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) \S+ "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/;

// The shell wrapper is a watchdog: it holds our stdin pipe on fd 3, and when that pipe closes
// (we stopped it, or this Node process died even by SIGKILL) it kills the registry, reaps it and
// removes the temp dir ($2), keeping the registry's exit status. The shell's own stderr goes to
// /dev/null: its "Terminated" job notice into a dead parent's pipe would SIGPIPE it before rm.
const WATCHDOG = 'exec 3<&0; docker-registry serve "$1" </dev/null 3<&- & p=$!; exec 2>/dev/null; '
  + '{ cat >/dev/null; kill $p 2>/dev/null; } <&3 & wait $p; c=$?; rm -rf "$2"; exit $c';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(opts: StartOptions = {}): Promise<RegistryHandle> {
  const kind = opts.auth ?? 'none';
  const dir = mkdtempSync(join(tmpdir(), 'swrm-reg-'));
  const dataDir = join(dir, 'data');
  const username = kind === 'none' ? undefined : (opts.username ?? 'testuser');
  const password = kind === 'none' ? undefined : (opts.password ?? 'testpass');
  let token: TokenServerHandle | undefined;
  try {
    let auth: object | undefined;
    let htpasswd: string | undefined;
    if (kind === 'basic') {
      htpasswd = (await promisify(execFile)('htpasswd', ['-Bbn', username!, password!])).stdout;
      auth = { htpasswd: { realm: 'basic-realm', path: join(dir, 'htpasswd') } };
    } else if (kind === 'token') {
      token = await startTokenServer({ service: 'test-registry', issuer: 'test-issuer', users: { [username!]: password! }, ...(opts.refreshTokens ? { refreshTokens: opts.refreshTokens } : {}) });
      auth = { token: { realm: token.realm, service: 'test-registry', issuer: 'test-issuer', rootcertbundle: token.certPath } };
    }
    // The port is free when probed but could be taken before the registry binds: retry a few times.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const config = {
        version: 0.1,
        log: { level: 'error', accesslog: { disabled: false } },
        storage: {
          filesystem: { rootdirectory: dataDir },
          delete: { enabled: opts.deleteEnabled ?? true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: {
          addr: `127.0.0.1:${port}`,
          secret: randomBytes(16).toString('hex'),
          ...(opts.tls ? { tls: { certificate: opts.tls.certificate, key: opts.tls.key, ...(opts.tls.clientCas ? { clientcas: opts.tls.clientCas } : {}) } } : {}),
        },
        ...(auth ? { auth } : {}),
      };
      // (Re)written per attempt: the watchdog removes the whole dir when a failed registry exits.
      mkdirSync(dir, { recursive: true });
      if (htpasswd !== undefined) writeFileSync(join(dir, 'htpasswd'), htpasswd);
      const configPath = join(dir, 'config.yml');
      writeFileSync(configPath, stringify(config));
      try {
        return await launch(kind, port, configPath, dir, dataDir, username, password, token, opts.tls);
      } catch (err) {
        if (attempt < 3 && /address already in use/.test(String(err))) continue;
        throw err;
      }
    }
  } catch (err) {
    await token?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(kind: AuthKind, port: number, configPath: string, dir: string, dataDir: string,
  username: string | undefined, password: string | undefined, token: TokenServerHandle | undefined,
  tls: RegistryTls | undefined): Promise<RegistryHandle> {
  // detached: own process group, so stop() can kill the shell, the registry and the watchdog at once.
  const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'sh', configPath, dir], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const entries: AccessLogEntry[] = [];
  let lastLineAt = Date.now();
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    lastLineAt = Date.now();
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = LOG_LINE.exec(line);
      if (m && m[4] !== PROBE_UA) entries.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
    }
  });
  // Keep only the tail of stderr: with level=error it logs every 4xx, which can be a lot.
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  let exited = false;
  const closed = new Promise<void>((resolve) => child.once('close', () => { exited = true; resolve(); }));
  const killGroup = (sig: NodeJS.Signals): void => {
    try { process.kill(-child.pid!, sig); } catch { /* already gone */ }
  };
  const stopSync = (): void => {
    killGroup('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const dispatcher = tls ? tlsDispatcher(tls) : undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    // Closing stdin makes the watchdog kill the registry, and the shell then reaps it (a group
    // kill would orphan it as a zombie for init to collect). SIGKILL the group if that stalls.
    // The child is unref'd (below); while we wait for it, it must hold the event loop, or a process
    // with nothing else to do exits in the middle of this await (seen in the bench).
    child.ref();
    for (const st of [child.stdout, child.stderr]) (st as unknown as { ref?: () => void }).ref?.();
    child.stdin!.end();
    const timer = setTimeout(() => killGroup('SIGKILL'), 2000);
    await closed;
    clearTimeout(timer);
    await dispatcher?.close();
    await token?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const untrack = track({ stop, stopSync });
  // Test processes must be able to exit even if a test forgot stopAll(): the exit handler cleans up.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      untrack();
      throw new Error(`docker-registry exited during start (exit ${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    try {
      const res = await request(`${url}/v2/`, { headers: { 'user-agent': PROBE_UA }, ...(dispatcher ? { dispatcher } : {}) });
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not become ready on ${url}:\n${stderr}`);
    }
    await sleep(50);
  }

  const handle: RegistryHandle = {
    kind,
    host: `127.0.0.1:${port}`,
    url,
    dataDir,
    log: () => [...entries],
    // Lines are written just after each response; wait until the log has been quiet for 100 ms
    // (counted from now at the earliest, so a response we just received has had time to be logged).
    settle: async () => {
      const start = Date.now();
      for (;;) {
        const quietFor = Date.now() - Math.max(lastLineAt, start);
        if (quietFor >= 100) return;
        await sleep(100 - quietFor);
      }
    },
    mark: () => entries.length,
    requestsSince: (mark: number) => entries.slice(mark),
    stop,
  };
  if (username !== undefined) handle.username = username;
  if (password !== undefined) handle.password = password;
  if (token) handle.token = token;
  if (dispatcher) handle.dispatcher = dispatcher;
  return handle;
}

function tlsDispatcher(tls: RegistryTls): Dispatcher {
  const read = (f: string): string => readFileSync(f, 'utf8');
  return new Agent({
    connect: {
      ca: read(tls.ca),
      ...(tls.clientCert && tls.clientKey ? { cert: read(tls.clientCert), key: read(tls.clientKey) } : {}),
    },
  });
}

/** Stops every registry, token server and proxy this process started (for `after` hooks). */
export async function stopAll(): Promise<void> {
  await stopAllTracked();
}

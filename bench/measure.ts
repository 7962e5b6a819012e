// One measured run of one tool: the child process timed from the outside, plus the requests it
// caused, counted from the registries' access logs (and, behind the WAN proxy, the connections
// it opened), so that no tool's own bookkeeping is trusted for the comparison.
import { MT, getManifest } from '../test/helpers/push.js';
import type { AccessLogEntry, RegistryHandle } from '../test/helpers/registry.js';
import { type DelayProxyHandle, startDelayProxy } from '../test/helpers/tcp-delay-proxy.js';
import { runMeasured } from './child.js';
import { type ToolCommand, readSyncReport, reportDigests } from './commands.js';
import type { Front } from './fronts.js';
import type { OursReport } from './ours-copy.js';
import { destinationPath, pool } from './seed.js';
import type { Measurement, Phase, RunContext, Tool, Workload } from './workloads.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

/** A registry as the tools reach it: directly, or through a delay proxy (the `wan` workload). */
export interface Endpoint {
  registry: RegistryHandle;
  /** host:port the tools are given. */
  host: string;
  proxy?: DelayProxyHandle;
  /** A stand-in between the tool and the registry (fronts.ts), e.g. the SWR Basic proxy. */
  front?: Front;
  stop(): Promise<void>;
}

/**
 * The registry itself, or what stands in front of it: the tool's front (fronts.ts), and a delay
 * proxy in front of that when the workload is a WAN one.
 */
export async function openEndpoint(registry: RegistryHandle, wl: Workload, front?: Front): Promise<Endpoint> {
  const inner = front?.host ?? registry.host;
  const proxy = wl.wanDelayMs ? await startDelayProxy(inner, { delayMs: wl.wanDelayMs }) : undefined;
  return {
    registry, host: proxy?.host ?? inner, proxy, front,
    stop: async () => {
      await proxy?.stop();
      await front?.stop();
      await registry.stop();
    },
  };
}

const DOCKER_TYPES = new Set<string>([MT.dockerManifest, MT.dockerList]);

/**
 * Does the destination hold every image under the source's manifest digest? (direct, not delayed)
 * When the tool converts (ToolCommand.converts) the digest differs from the source's by design: then every image must
 * have the digest the sync report names, a Docker media type, and every child of a list must be a
 * Docker manifest too (fetched, not just as the list names it).
 */
async function verify(dst: Endpoint, run: RunContext, cmd: ToolCommand): Promise<boolean> {
  const converted = cmd.converts ? (cmd.report ? reportDigests(cmd.report) : new Map<string, string>()) : undefined;
  const same = await pool(run.images, 8, async (img) => {
    const d = destinationPath(run.prefix, img);
    const got = await getManifest(dst.registry, d.repository, d.tag);
    if (!converted) return got?.digest === img.digest;
    if (!got || got.digest !== converted.get(`${dst.host}/${d.repository}:${d.tag}`) || !DOCKER_TYPES.has(got.mediaType)) return false;
    if (got.mediaType !== MT.dockerList) return true;
    const children = (JSON.parse(got.bytes.toString()) as { manifests: { digest: string }[] }).manifests;
    const types = await Promise.all(children.map(async (c) => (await getManifest(dst.registry, d.repository, c.digest))?.mediaType));
    return types.every((t) => t === MT.dockerManifest);
  });
  return same.every(Boolean);
}

function countBy(log: AccessLogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of log) out[e.method] = (out[e.method] ?? 0) + 1;
  return out;
}

/** What a request was for, from its path (distribution spec routes). */
function kindOf(path: string): string {
  if (path === '/v2/' || path.startsWith('/v2/?')) return 'ping';
  if (/\/tags\/list/.test(path)) return 'tags';
  if (path.startsWith('/v2/_catalog')) return 'catalog';
  if (/\/manifests\//.test(path)) return 'manifest';
  if (/\/blobs\/uploads\/?\?.*mount=/.test(path)) return 'mount';
  if (/\/blobs\/uploads/.test(path)) return 'upload';
  if (/\/blobs\//.test(path)) return 'blob';
  return 'other';
}

/** Requests by "METHOD kind status", e.g. `HEAD blob 404` (issue 15, item 9). */
function countByKind(log: AccessLogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of log) {
    const k = `${e.method} ${kindOf(e.path)} ${e.status}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function measure(wl: Workload, tool: Tool, phase: Phase, run: RunContext, cmd: ToolCommand, src: Endpoint, dst: Endpoint): Promise<Measurement> {
  // Flush dirty pages first: otherwise the kernel writes back the seed (or the previous run's
  // copy) while this run goes, and whichever tool runs first after seeding pays for it (about
  // 1 s of 7 on workload a). Then quiet logs, so the marks separate the runs' requests.
  await runMeasured('sync', []).catch(() => undefined);
  await Promise.all([src.registry.settle(), dst.registry.settle()]);
  const marks = [src.registry.mark(), dst.registry.mark()] as const;
  const conns = [src.proxy?.connections() ?? 0, dst.proxy?.connections() ?? 0] as const;
  const refused0 = dst.front?.refusedOci() ?? 0;
  const cpu0 = process.cpuUsage();
  const r = await runMeasured(cmd.command, cmd.args, cmd.env);
  const cpu = process.cpuUsage(cpu0);
  await Promise.all([src.registry.settle(), dst.registry.settle()]);
  const srcLog = src.registry.requestsSince(marks[0]);
  const dstLog = dst.registry.requestsSince(marks[1]);
  const m: Measurement = {
    workload: wl.id, tool, phase, ok: r.code === 0, wallMs: r.wallMs, cpuMs: r.cpuMs, peakRss: r.peakRss,
    srcRequests: srcLog.length,
    srcManifestGets: srcLog.filter((e) => e.method === 'GET' && e.path.includes('/manifests/')).length,
    dstRequests: dstLog.length,
    dstWrites: dstLog.filter((e) => WRITES.has(e.method)).length,
    byMethod: { src: countBy(srcLog), dst: countBy(dstLog) },
    byKind: { src: countByKind(srcLog), dst: countByKind(dstLog) },
  };
  if (dst.front) {
    m.refusedOci = dst.front.refusedOci() - refused0;
    // The stand-in runs in this process: its CPU competes with the tool and the registries for the cores.
    m.frontCpuMs = (cpu.user + cpu.system) / 1000;
  }
  if (src.proxy && dst.proxy) m.connections = { src: src.proxy.connections() - conns[0], dst: dst.proxy.connections() - conns[1] };
  if (cmd.output === 'engine') {
    try {
      m.ours = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as OursReport;
      if (m.ours.errors.length) m.error = m.ours.errors.join('; ');
    } catch {
      m.ok = false;
    }
  } else if (cmd.output === 'sync') {
    m.sync = readSyncReport(cmd.report!);
    if (!m.sync) m.ok = false;
    else if (m.sync.errors.length) m.error = m.sync.errors.join('; ');
  }
  if (!m.ok) m.error ??= `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  // After the logs were read: the verification's own GETs are not counted against the tool.
  if (phase === 'cold' && m.ok) m.verified = await verify(dst, run, cmd);
  return m;
}

/** The one-line progress note printed after each run. */
export function describeRun(label: string, m: Measurement): string {
  const conns = m.connections ? `, connections src ${m.connections.src} dst ${m.connections.dst}` : '';
  return `  ${label}: ${(m.wallMs / 1000).toFixed(2)} s, src ${m.srcRequests} req, dst ${m.dstRequests} req ` +
    `(${m.dstWrites} writes)${conns}${m.ok ? '' : ` FAILED: ${m.error}`}${m.verified === false ? ' DIGESTS DIFFER' : ''}`;
}

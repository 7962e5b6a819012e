// Issue 15, item 2: a listing source (Harbor's, Docker Hub's, Quay's, ECR's or SWR's API gives each tag's
// digest) synced into SWR (its
// management API gives each tag's digest there): an unchanged repository costs the same few requests
// whatever its tag count: the source's artifact pages, SWR's tag page, and nothing at either
// registry. Counted at the stand-ins and from both registries' own logs, with 10 and 200 tags.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { MT, pushBlob, pushManifest, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { startHarborApi } from '../helpers/harbor-api.js';
import { startDockerHubApi } from '../helpers/docker-hub-api.js';
import { startQuayApi } from '../helpers/quay-api.js';
import { startEcrApi } from '../helpers/ecr-api.js';
import type { JsonApi } from '../helpers/json-api.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { type SwrApiHandle, startSwrApi, swrState } from '../helpers/swr-api-server.js';

const SIZES = { small: 10, large: 200 } as const;
/** HEADs that probe a source's pull budget before its first copy (one per source). */
const PROBES = 1;

describe('no-op from a listing source into SWR: requests per repository independent of its tags', () => {
  let src: RegistryHandle;
  let back: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;
  let harbor: JsonApi;
  let hub: JsonApi;
  let quay: JsonApi;
  let ecr: JsonApi;
  let srcApi: SwrApiHandle;
  let srcSwr: SwrRegistryProxyHandle;
  const configs: Record<string, string> = {};
  let dir: string;
  const dlq = () => join(dir, 'state', 'dlq.jsonl');

  before(async () => {
    [src, back] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    const state = swrState();
    state.orgs.set('team', { auth: 7, mine: true });
    api = await startSwrApi({ ak: 'AKL', sk: 'SKL', projectId: 'p1', state, backing: back });
    swr = await startSwrRegistryProxy(back, { state });
    dir = tempDir();
    // Docker-format images (SWR Basic converts nothing), each tag its own small image.
    const repos: { name: string; tags: { name: string; pushed: string; digest: string }[] }[] = [];
    for (const [name, n] of Object.entries(SIZES)) {
      // The destination already holds the large repository as a cold sync would leave it (the SWR
      // stand-in admits 20 pushes a second, so syncing 200 images would take half a minute); the
      // small one is synced cold by the first run.
      const layerBytes = randomLayer(256);
      const layer = await pushBlob(src, `proj/${name}`, layerBytes, MT.dockerLayer);
      if (name === 'large') await pushBlob(back, `team/proj/${name}`, layerBytes, MT.dockerLayer);
      const seedOne = async (i: number) => {
        const cfgBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', i }));
        const cfg = await pushBlob(src, `proj/${name}`, cfgBytes, MT.dockerConfig);
        const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: { mediaType: MT.dockerConfig, digest: cfg.digest, size: cfg.size }, layers: [{ mediaType: MT.dockerLayer, digest: layer.digest, size: layer.size }] }));
        const digest = await pushManifest(src, `proj/${name}`, `t${i}`, manifest, MT.dockerManifest);
        if (name === 'large') {
          await pushBlob(back, `team/proj/${name}`, cfgBytes, MT.dockerConfig);
          await pushManifest(back, `team/proj/${name}`, `t${i}`, manifest, MT.dockerManifest);
        }
        return { name: `t${i}`, pushed: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), digest };
      };
      // 8 at a time: seeding 210 images one by one took most of this file's time on a busy machine.
      const tags: { name: string; pushed: string; digest: string }[] = [];
      for (let i = 0; i < n; i += 8) tags.push(...(await Promise.all(Array.from({ length: Math.min(8, n - i) }, (_, k) => seedOne(i + k)))));
      repos.push({ name, tags });
    }
    harbor = await startHarborApi({ projects: { proj: { repos } }, username: 'robot', password: 'pw' });
    hub = await startDockerHubApi({ namespaces: { proj: repos } });
    quay = await startQuayApi({ namespaces: { proj: repos.map((r) => ({ name: r.name, tags: r.tags.map((x, i) => ({ name: x.name, startTs: 1_767_225_600 + i, digest: x.digest })) })) }, pageSize: 100 });
    ecr = await startEcrApi({ repositories: repos.map((r) => ({ name: `proj/${r.name}`, images: r.tags.map((x, i) => ({ tags: [x.name], pushedAt: 1_767_225_600 + i, digest: x.digest })) })), password: 'unused', fixedPassword: true });
    const srcState = swrState();
    srcState.orgs.set('proj', { auth: 7, mine: true });
    srcApi = await startSwrApi({ ak: 'AKS', sk: 'SKS', projectId: 'p2', state: srcState, backing: src });
    srcSwr = await startSwrRegistryProxy(src, { state: srcState });
    const dstEntry = `"${swr.host}": { type: swr, insecure: true, accessKey: AKL, secretKey: SKL, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }`;
    const fronts: Record<string, [string, string]> = {
      harbor: [src.host, `{ insecure: true, username: robot, password: pw, type: harbor, apiEndpoint: "${harbor.url}" }`],
      dockerhub: [src.host, `{ insecure: true, type: dockerhub, apiEndpoint: "${hub.url}" }`],
      quay: [src.host, `{ insecure: true, type: quay, apiEndpoint: "${quay.url}" }`],
      ecr: [src.host, `{ insecure: true, type: ecr, apiEndpoint: "${ecr.url}" }`],
      swr: [srcSwr.host, `{ type: swr, insecure: true, accessKey: AKS, secretKey: SKS, project: cn-north-4, projectId: p2, managementEndpoint: "${srcApi.url}" }`],
    };
    for (const [kind, [host, entry]] of Object.entries(fronts)) {
      configs[kind] = writeFile(dir, `${kind}.yaml`, `version: 1
defaults: { concurrency: 8 }
registries:
  "${host}": ${entry}
  ${dstEntry}
rules:
${Object.keys(SIZES).map((name) => `  - { source: "${host}/proj/${name}", destination: "${swr.host}/team", mapping: path }`).join('\n')}
`);
    }
  });
  after(stopAll);

  /** A run, and the requests it made for each repository: at the listing API, the SWR API and both registries. */
  const run = async (kind: string) => {
    const listing = { harbor, dockerhub: hub, quay, ecr, swr: srcApi }[kind]!;
    const [s, b, l, a] = [src.mark(), back.mark(), listing.requests.length, api.requests.length];
    // ECR's API is reached through the AWS SDK: dummy credentials (the stand-in checks no signature).
    const r = await runCli(['sync', '--config', configs[kind]!, '--dlq', dlq()], { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'eu-west-1' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await Promise.all([src.settle(), back.settle()]);
    const per = (name: string) => ({
      // ECR's JSON API names the repository in the body: its DescribeImages calls are shared out evenly.
      listing: kind === 'ecr'
        ? listing.requests.slice(l).filter((q) => (q as { target?: string }).target?.endsWith('.DescribeImages')).length / 2
        : listing.requests.slice(l).filter((q) => new RegExp(`/(repositories|repository|repos)/(proj/)?${name}/`).test(q.path)).length,
      swrApi: api.requests.slice(a).filter((q) => q.path.includes(`/repos/proj$${name}/`) || q.path.includes(`/repos/proj%24${name}/`)).length,
      source: src.requestsSince(s).filter((e) => e.path.includes(`/proj/${name}/`)).length,
      destination: back.requestsSince(b).filter((e) => e.path.includes(`/proj/${name}/`)).length,
    });
    return { r, small: per('small'), large: per('large'), all: { source: src.requestsSince(s), destination: back.requestsSince(b) } };
  };

  for (const kind of ['harbor', 'dockerhub', 'quay', 'ecr', 'swr']) {
    test(`${kind} source: the no-op asks each repository at most 3 times, with 10 tags as with 200`, async (t) => {
      const first = await run(kind);
      if (kind === 'harbor') assert.match(first.r.stdout + first.r.stderr, new RegExp(`${SIZES.small} copied, ${SIZES.large} already present`));
      t.diagnostic(`first run: small ${JSON.stringify(first.small)}, large ${JSON.stringify(first.large)}`);
      const noop = await run(kind);
      t.diagnostic(`no-op: small ${JSON.stringify(noop.small)}, large ${JSON.stringify(noop.large)}; source registry ${noop.all.source.length} request(s) in all: ${noop.all.source.map((e) => `${e.method} ${e.path}`).join(', ')}`);
      assert.match(noop.r.stdout + noop.r.stderr, /0 copied/);
      assert.ok(noop.all.source.length <= PROBES, 'at most the probe HEAD at the source registry, nothing else');
      for (const [name, c] of [['small', noop.small], ['large', noop.large]] as const) {
        // The only source request: the one HEAD that probes the source's pull budget (pull-gate.ts), once per source.
        assert.ok(c.source <= PROBES, `${name}: no request to the source registry for the repository`);
        assert.equal(c.destination, 0, `${name}: no request to the destination registry for the repository`);
        assert.ok(c.listing >= 1 && c.listing + c.swrApi <= 3, `${name}: ${c.listing} listing API + ${c.swrApi} SWR API requests`);
      }
      // The tag count changes only the page count of a listing that serves fewer than 200 a page.
      assert.ok(noop.large.listing + noop.large.swrApi - (noop.small.listing + noop.small.swrApi) <= 1);
    });
  }
});

// deploy/kubernetes/ (issue 16 item 7): every manifest validated against the Kubernetes API schema
// by kubernetes-models (the OpenAPI of Kubernetes 1.27, compiled to validators), then what the schema
// cannot know: the probes reach /healthz on the port serve listens on, the pod runs as the image's
// non-root user with a read-only root, the names that tie the objects together line up, and the
// example config Secret is a config the CLI accepts. A deliberately broken copy of each is shown
// failing, so a validator that accepted everything would be noticed.
//
// The schema does not reject unknown fields (Kubernetes' OpenAPI has no additionalProperties: false;
// the API server does that with strict field validation): the invariants below read every field
// that matters by its exact name, so a misspelt one fails here as a missing one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parseNativeConfig } from '../../lib/config/native.js';
import { parseYamlText } from '../../lib/config/source-text.js';
import { parseDockerfile } from '../helpers/dockerfile.js';

const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const dir = resolve(root, 'deploy/kubernetes');

// The kinds deploy/kubernetes holds, each with its schema; any other kind fails the test.
type Validate = (doc: unknown) => void;
const MODELS: Record<string, Validate> = {
  'apps/v1/Deployment': (d) => new Deployment(d as never).validate(),
  'v1/Service': (d) => new Service(d as never).validate(),
  'v1/Secret': (d) => new Secret(d as never).validate(),
  'v1/PersistentVolumeClaim': (d) => new PersistentVolumeClaim(d as never).validate(),
};

/** A manifest's parsed YAML, read field by field below (each read is an assertion). */
type Doc = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Manifest {
  file: string;
  doc: Doc;
}

function readYamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(resolve(dir, file), 'utf8'));
  if (!Array.isArray(docs)) return [];
  return docs.map((d) => {
    assert.deepEqual(d.errors, [], `${file} parses as YAML`);
    return d.toJS() as unknown;
  });
}

const kustomization = readYamlDocs('kustomization.yaml')[0] as { resources: string[]; images?: { name: string; newName?: string; newTag?: string }[] };
const manifests: Manifest[] = kustomization.resources.flatMap((file) => readYamlDocs(file).map((doc) => ({ file, doc })));

/** Schema problems of one document: its kind unknown, or what the validator said. */
function schemaProblem(doc: { apiVersion?: unknown; kind?: unknown }): string | undefined {
  const validate = MODELS[`${String(doc.apiVersion)}/${String(doc.kind)}`];
  if (!validate) return `no schema for ${String(doc.apiVersion)} ${String(doc.kind)}`;
  try {
    validate(doc);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const one = (all: Manifest[], kind: string, name?: string) => {
  const found = all.filter((m) => m.doc.kind === kind && (name === undefined || m.doc.metadata?.name === name));
  return found.length === 1 ? found[0]!.doc : undefined;
};

/** Every way the manifests fall short of what serve and the image need; empty when they are right. */
function invariants(all: Manifest[]): string[] {
  const out: string[] = [];
  const add = (ok: unknown, problem: string) => {
    if (!ok) out.push(problem);
  };
  for (const m of all) add(m.doc.metadata?.namespace === undefined, `${m.file}: ${m.doc.kind} ${m.doc.metadata?.name} names a namespace (the manifests are namespace-agnostic)`);

  const deploy = one(all, 'Deployment');
  if (!deploy) return [...out, 'expected one Deployment'];
  const spec = deploy.spec;
  add(spec.replicas === 1, `replicas ${JSON.stringify(spec.replicas)}: the embedded queue is per pod, expected 1`);
  add(spec.strategy?.type === 'Recreate', `strategy ${spec.strategy?.type}: expected Recreate (one pod holds the state volume at a time)`);
  const pod = spec.template.spec;
  add(pod.terminationGracePeriodSeconds >= 60, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}: too short to drain`);
  const [container, ...others] = pod.containers;
  add(others.length === 0, 'expected one container');
  const args: string[] = container.args ?? [];
  const listen = /:(\d+)$/.exec(args[args.indexOf('--listen') + 1] ?? '');
  const serving = listen ? Number(listen[1]) : undefined;
  add(args[0] === 'serve' && serving !== undefined, `args ${JSON.stringify(args)}: expected serve ... --listen HOST:PORT`);
  const port = (container.ports ?? []).find((p: { containerPort: number }) => p.containerPort === serving);
  add(port, `no container port ${serving}, the port serve listens on`);
  /** A probe's or a Service's port (a number, or a container port's name) as the number it reaches. */
  const portNumber = (p: unknown) => (typeof p === 'number' ? p : (container.ports ?? []).find((c: { name?: string }) => c.name === p)?.containerPort);
  for (const kind of ['livenessProbe', 'readinessProbe']) {
    const probe = container[kind]?.httpGet;
    add(probe?.path === '/healthz' && portNumber(probe.port) === serving, `${kind}: expected httpGet /healthz on port ${serving}, got ${JSON.stringify(probe)}`);
  }
  for (const what of ['requests', 'limits']) add(container.resources?.[what]?.cpu && container.resources?.[what]?.memory, `resources.${what}: expected cpu and memory`);

  // Non-root, read-only root, nothing to escalate to; the UID the image's USER has.
  const image = parseDockerfile(readFileSync(resolve(root, 'Dockerfile'), 'utf8')).at(-1)!;
  const imageUser = Number(/^(\d+)/.exec(image.instructions.filter((i) => i.op === 'USER').at(-1)?.args ?? '')?.[1]);
  const sc = container.securityContext ?? {};
  add(sc.runAsNonRoot === true || pod.securityContext?.runAsNonRoot === true, 'runAsNonRoot is not set');
  add((sc.runAsUser ?? pod.securityContext?.runAsUser) === imageUser, `runAsUser ${sc.runAsUser ?? pod.securityContext?.runAsUser}: the image's user is ${imageUser}`);
  add(sc.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem is not true');
  add(sc.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation is not false');
  add(JSON.stringify(sc.capabilities?.drop) === '["ALL"]', `capabilities.drop ${JSON.stringify(sc.capabilities?.drop)}: expected ["ALL"]`);

  // Volumes: each mounted one exists, each one is mounted; config from the Secret, state on the PVC
  // at the image's state directory (its WORKDIR and VOLUME), and a writable /tmp.
  const volumes = new Map<string, Doc>((pod.volumes ?? []).map((v: { name: string }) => [v.name, v]));
  const mounts = new Map<string, string>((container.volumeMounts ?? []).map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
  for (const name of mounts.values()) add(volumes.has(name), `volumeMount ${name}: no such volume`);
  for (const name of volumes.keys()) add([...mounts.values()].includes(name), `volume ${name} is never mounted`);
  const configFile = args[args.indexOf('--config') + 1] ?? '';
  const configVolume = volumes.get(mounts.get(posix.dirname(configFile)) ?? '');
  const configSecret = one(all, 'Secret', configVolume?.secret?.secretName);
  add(configSecret?.stringData?.[posix.basename(configFile)] !== undefined, `--config ${configFile}: no Secret volume mounted at ${posix.dirname(configFile)} with the key ${posix.basename(configFile)}`);
  const stateDir = image.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '';
  const claim = volumes.get(mounts.get(stateDir) ?? '')?.persistentVolumeClaim?.claimName;
  add(claim && one(all, 'PersistentVolumeClaim', claim), `the image's state directory ${stateDir} is not on a PersistentVolumeClaim of these manifests`);
  add(volumes.get(mounts.get('/tmp') ?? '')?.emptyDir, 'no emptyDir at /tmp (the root filesystem is read-only; blobs are spooled there)');

  // Credentials: from a Secret of these manifests into the environment, for config.yaml's ${env:}.
  const credentials = (container.envFrom ?? []).map((e: { secretRef?: { name: string } }) => one(all, 'Secret', e.secretRef?.name));
  add(credentials.length > 0 && credentials.every(Boolean), 'envFrom: expected secretRefs to Secrets of these manifests');

  const service = one(all, 'Service');
  if (!service) return [...out, 'expected one Service'];
  const labels = spec.template.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.selector.matchLabels ?? {})) add(labels[k] === v, `the Deployment's selector ${k}=${String(v)} does not match its pod labels`);
  const selector = Object.entries(service.spec.selector ?? {});
  add(selector.length > 0 && selector.every(([k, v]) => labels[k] === v), `the Service selects ${JSON.stringify(service.spec.selector)}, not the pods`);
  const servicePort = (service.spec.ports ?? []).find((p: { targetPort?: unknown; port: number }) => portNumber(p.targetPort ?? p.port) === serving);
  add(servicePort, `no Service port reaches the container port ${serving}`);
  const a = service.metadata.annotations ?? {};
  add(a['prometheus.io/scrape'] === 'true' && a['prometheus.io/path'] === '/metrics' && Number(a['prometheus.io/port']) === serving, `the Service's prometheus.io annotations do not point at /metrics on ${serving}`);

  const image0 = String(container.image).replace(/[:@].*$/, '');
  add((kustomization.images ?? []).some((i) => i.name === image0 && i.newName), `kustomization.yaml images: no entry for ${image0}`);
  return out;
}

/** The example config.yaml checked as the CLI reads it, with the credentials Secret as the environment. */
function configProblems(all: Manifest[], env: Record<string, string>): string[] {
  const deploy = one(all, 'Deployment');
  const args: string[] = deploy.spec.template.spec.containers[0].args;
  const key = posix.basename(args[args.indexOf('--config') + 1]!);
  const secret = all.find((m) => m.doc.kind === 'Secret' && m.doc.stringData?.[key] !== undefined)!.doc;
  const text: string = secret.stringData[key];
  try {
    const parsed = parseYamlText(text);
    const dupes = parsed.duplicates.map((d) => `duplicate key ${d.key}`);
    parseNativeConfig(parsed.value, key, env, { locate: parsed.locate, problems: dupes });
    return [];
  } catch (err) {
    const e = err as Error & { problems?: string[] };
    return e.problems?.length ? e.problems : [e.message];
  }
}

/** What the Deployment's envFrom Secrets put in the environment. */
function credentialEnv(all: Manifest[]): Record<string, string> {
  const deploy = one(all, 'Deployment');
  const names: string[] = (deploy.spec.template.spec.containers[0].envFrom ?? []).map((e: { secretRef: { name: string } }) => e.secretRef.name);
  return Object.assign({}, ...names.map((n) => one(all, 'Secret', n)?.stringData ?? {}));
}

describe('deploy/kubernetes', () => {
  test('kustomization.yaml lists every manifest of the directory, and only those', () => {
    const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...kustomization.resources].sort(), files);
    assert.deepEqual(manifests.map((m) => m.doc.kind).sort(), ['Deployment', 'PersistentVolumeClaim', 'Secret', 'Secret', 'Service']);
  });

  test('every manifest validates against the Kubernetes schema', () => {
    for (const m of manifests) assert.equal(schemaProblem(m.doc), undefined, `${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`);
  });

  test('the validator is live: broken manifests fail it', () => {
    const deploy = structuredClone(one(manifests, 'Deployment'));
    deploy.spec.replicas = '1';
    assert.match(schemaProblem(deploy) ?? '', /replicas must be integer/);
    const noName = structuredClone(one(manifests, 'Deployment'));
    delete noName.spec.template.spec.containers[0].name;
    assert.match(schemaProblem(noName) ?? '', /containers\/0 must have required property name/);
    const service = structuredClone(one(manifests, 'Service'));
    service.spec.ports[0].port = '8080';
    assert.match(schemaProblem(service) ?? '', /port must be integer/);
    const pvc = structuredClone(one(manifests, 'PersistentVolumeClaim'));
    pvc.spec.accessModes = 'ReadWriteOnce';
    assert.match(schemaProblem(pvc) ?? '', /accessModes must be array/);
    const secret = structuredClone(one(manifests, 'Secret', 'swr-migrate-config'));
    secret.stringData = ['config.yaml'];
    assert.match(schemaProblem(secret) ?? '', /stringData must be object/);
    assert.match(schemaProblem({ apiVersion: 'extensions/v1beta1', kind: 'Deployment' }) ?? '', /no schema for extensions\/v1beta1 Deployment/);
  });

  test('the probes, the user, the volumes and the Service fit serve and the image', () => {
    assert.deepEqual(invariants(manifests), []);
  });

  test('each invariant fails on manifests broken in its way', () => {
    const broken = (change: (deploy: Doc, service: Doc) => void, expected: RegExp) => {
      const all = structuredClone(manifests);
      change(one(all, 'Deployment'), one(all, 'Service'));
      const found = invariants(all);
      assert.ok(found.some((p) => expected.test(p)), `expected a problem matching ${expected}, got ${JSON.stringify(found)}`);
    };
    const c = (d: Doc) => d.spec.template.spec.containers[0];
    broken((d) => (d.spec.replicas = 2), /replicas 2/);
    broken((d) => (d.spec.strategy = { type: 'RollingUpdate' }), /strategy RollingUpdate/);
    broken((d) => (c(d).livenessProbe.httpGet.path = '/'), /livenessProbe: expected httpGet \/healthz/);
    broken((d) => (c(d).readinessProbe.httpGet.port = 9090), /readinessProbe: expected httpGet \/healthz on port 8080/);
    broken((d) => (c(d).readinesProbe = c(d).readinessProbe, delete c(d).readinessProbe), /readinessProbe: expected/);
    broken((d) => (c(d).args = ['serve', '--config', '/etc/swr-migrate/config.yaml', '--listen', '0.0.0.0:9090']), /no container port 9090/);
    broken((d) => (c(d).securityContext.readOnlyRootFilesystem = false), /readOnlyRootFilesystem/);
    broken((d) => (c(d).securityContext.capabilities.drop = ['NET_RAW']), /capabilities\.drop/);
    broken((d) => (c(d).securityContext.runAsUser = 0), /runAsUser 0/);
    broken((d) => (c(d).securityContext.allowPrivilegeEscalation = true), /allowPrivilegeEscalation/);
    broken((d) => delete c(d).resources.limits, /resources\.limits/);
    broken((d) => (d.spec.template.spec.terminationGracePeriodSeconds = 30), /too short to drain/);
    broken((d) => (c(d).volumeMounts[0].name = 'cfg'), /volumeMount cfg: no such volume/);
    broken((d) => (d.spec.template.spec.volumes[0].secret.secretName = 'other'), /--config \/etc\/swr-migrate\/config\.yaml: no Secret volume/);
    broken((d) => (d.spec.template.spec.volumes[1].persistentVolumeClaim.claimName = 'other'), /state directory \/var\/lib\/swr-migrate is not on a PersistentVolumeClaim/);
    broken((d) => (c(d).volumeMounts = c(d).volumeMounts.filter((m: { mountPath: string }) => m.mountPath !== '/tmp')), /volume tmp is never mounted/);
    broken((d) => (c(d).envFrom[0].secretRef.name = 'missing'), /envFrom/);
    broken((_d, s) => (s.spec.selector = { app: 'other' }), /the Service selects/);
    broken((_d, s) => (s.spec.ports[0].targetPort = 80), /no Service port reaches/);
    broken((_d, s) => delete s.metadata.annotations['prometheus.io/scrape'], /prometheus\.io annotations/);
    broken((d) => (d.metadata.namespace = 'default'), /names a namespace/);
    broken((d) => (c(d).image = 'elsewhere/swr-migrate:1'), /images: no entry for elsewhere\/swr-migrate/);
  });

  test("the example config.yaml is a valid native config, its ${env:} references all in the credentials Secret", () => {
    const env = credentialEnv(manifests);
    assert.deepEqual(configProblems(manifests, env), []);
    // Live: without one of the Secret's keys the same config is refused, naming the variable.
    const { SWR_LOGIN_KEY: _dropped, ...short } = env;
    assert.ok(configProblems(manifests, short).some((p) => /SWR_LOGIN_KEY/.test(p)), 'an unset variable is named');
    // The config holds references, not the credentials themselves.
    const text = JSON.stringify(manifests.find((m) => m.doc.metadata.name === 'swr-migrate-config')!.doc.stringData);
    for (const value of Object.values(env)) assert.ok(!text.includes(value), 'a credential value is written into config.yaml');
  });

  test('the Ingress and the Secret names in docs/deploy-kubernetes.md fit the manifests', () => {
    const doc = readFileSync(resolve(root, 'docs/deploy-kubernetes.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parseAllDocuments(m[1]!));
    const ingresses = blocks.flatMap((docs) => (Array.isArray(docs) ? docs.map((d) => d.toJS() as Doc) : [])).filter((d) => d?.kind === 'Ingress');
    assert.equal(ingresses.length, 1);
    const ingress = ingresses[0];
    new Ingress(ingress).validate();
    const service = one(manifests, 'Service');
    for (const rule of ingress.spec.rules) {
      for (const path of rule.http.paths) {
        assert.equal(path.path, '/hooks', 'only the webhook endpoints go outside the cluster');
        assert.equal(path.backend.service.name, service.metadata.name);
        assert.ok(service.spec.ports.some((p: { name?: string }) => p.name === path.backend.service.port.name), 'the Ingress names a port of the Service');
      }
    }
    for (const m of doc.matchAll(/create secret generic (\S+)/g)) assert.ok(one(manifests, 'Secret', m[1]), `the docs create ${m[1]}, a Secret the manifests use`);
    assert.ok(doc.includes(`kubectl apply -k deploy/kubernetes`));
  });
});

// `images-from-cluster` (issue 9 item 6, image-migrator's `config` subcommand): list the images a
// Kubernetes cluster runs and write an image-syncer images file that maps each to --target.
// client-node is imported here, dynamically from main.ts, so other commands never load it.
// --rewrite prints `kubectl set image` commands; applying them is left to the user, after the copy.
import { writeFile } from 'node:fs/promises';
import { UsageError, errorMessage } from '../errors.js';
import { planImages, parseTarget, renderImagesFile, rewriteCommands } from '../k8s/images-file.js';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { listContainerImages } from '../k8s/workloads.js';
import { ExitCode } from './errors.js';
import type { CommandEnv } from './pipeline-commands.js';
import { userWarnings } from './warnings.js';

type Flags = Record<string, string | boolean | undefined>;

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

// Kubernetes namespace names are RFC 1123 labels.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function parseNamespaces(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
  if (!list.length) throw new UsageError('-n/--namespace needs one or more namespace names, comma separated');
  const bad = list.find((ns) => !NAMESPACE.test(ns) || ns.length > 63);
  if (bad !== undefined) throw new UsageError(`-n/--namespace: "${bad}" is not a Kubernetes namespace name (lowercase letters, digits and '-')`);
  return list;
}

export async function imagesFromClusterCommand(flags: Flags, env: CommandEnv): Promise<number> {
  const target = parseTarget(str(flags.target));
  const namespaces = parseNamespaces(str(flags.namespace));
  const out = str(flags.out);
  const rewrite = flags.rewrite === true;
  // Both would go to stdout and neither could be used as it is.
  if (rewrite && out === undefined) throw new UsageError('--rewrite prints kubectl commands on stdout; give --out FILE for the images file');
  const file = str(flags.kubeconfig);
  const { kc, context, server } = loadKubeConfig({ ...(file !== undefined ? { file } : {}), ...(str(flags.context) !== undefined ? { context: str(flags.context)! } : {}) });
  env.logger.debug({ context, server, namespaces }, 'listing workloads');
  let containers;
  try {
    containers = await listContainerImages(kc, server, { ...(namespaces ? { namespaces } : {}), signal: env.signal });
  } catch (err) {
    if (env.signal.aborted) return ExitCode.INTERRUPTED; // Ctrl-C while listing: nothing written
    throw err;
  }
  const plan = planImages(containers, target);
  const warn = userWarnings(env.stderr, { logger: env.logger });
  for (const w of plan.warnings) warn(w);
  if (!plan.images.size) warn('no images to copy found; check --context and -n');
  const text = renderImagesFile(plan, out?.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
  const workloads = new Set(containers.map((c) => `${c.kind}/${c.namespace}/${c.name}`)).size;
  const where = namespaces ? `namespace(s) ${namespaces.join(', ')}` : 'all namespaces';
  if (out !== undefined) {
    try {
      await writeFile(out, text);
    } catch (err) {
      throw new UsageError(`cannot write --out ${out}: ${errorMessage(err)}`);
    }
  } else if (plan.images.size) {
    env.stdout.write(text);
  }
  if (rewrite) {
    for (const line of rewriteCommands(containers, plan)) env.stdout.write(`${line}\n`);
  }
  env.stderr.write(`images-from-cluster: ${plan.images.size} image(s) from ${workloads} workload(s) in ${where} (context ${context})${out !== undefined ? ` written to ${out}` : ''}\n`);
  return ExitCode.OK;
}

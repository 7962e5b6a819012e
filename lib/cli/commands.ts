// Which options each command takes, and its `--help`. A flag a command does not take is a usage
// error (issue 6 item 12: `copy --arch` and `copy --config` used to be ignored without a word).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { DEFAULT_DLQ_PATH } from '../queue/dlq-path.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface OptionDoc {
  spec: Options[string];
  usage: string;
  help: string;
}

const OPTIONS = {
  config: { spec: { type: 'string', short: 'c' }, usage: '-c, --config FILE', help: 'native config (YAML or JSON)' },
  images: { spec: { type: 'string' }, usage: '--images FILE', help: 'image-syncer / image-migrator images file' },
  auth: { spec: { type: 'string' }, usage: '--auth FILE', help: 'image-syncer auth file: "host" or "host/namespace" -> {username, password, insecure}' },
  proc: { spec: { type: 'string', short: 'p' }, usage: '-p, --proc N', help: 'images at once (default: defaults.concurrency, 16)' },
  retries: { spec: { type: 'string', short: 'r' }, usage: '-r, --retries N', help: 'extra deliveries of a failing image that commit nothing, before the DLQ (default: defaults.retries, 3)' },
  os: { spec: { type: 'string', multiple: true }, usage: '--os OS', help: 'keep only these platforms (repeatable or comma list, with --arch; default linux)' },
  arch: { spec: { type: 'string', multiple: true }, usage: '--arch ARCH', help: 'keep only these architectures (repeatable or comma list; arch:variant, e.g. arm64:v8)' },
  'dry-run': { spec: { type: 'boolean' }, usage: '--dry-run', help: 'only print the plan' },
  report: { spec: { type: 'string' }, usage: '--report FILE', help: 'write a JSON report: per image source, destination, digest, status, bytes, duration, error' },
  dlq: { spec: { type: 'string' }, usage: '--dlq FILE', help: `the dead-letter file; the digest memo digests.jsonl lives beside it (default: ${DEFAULT_DLQ_PATH})` },
  json: { spec: { type: 'boolean' }, usage: '--json', help: 'one JSON object per line on stdout (the summary goes to stderr)' },
  format: { spec: { type: 'string' }, usage: '--format docker|keep', help: 'docker: convert OCI manifests to Docker media types (blob digests kept); keep: push as is (default: SWR Basic destinations convert, others keep)' },
  timeout: { spec: { type: 'string' }, usage: '--timeout SECONDS', help: 'longest a single registry request may take (1-86400; default: defaults.timeout)' },
  'log-level': { spec: { type: 'string' }, usage: '--log-level LEVEL', help: 'fatal|error|warn|info|debug|trace|silent (default: warn); JSON logs on stderr' },
  'queue-url': { spec: { type: 'string' }, usage: '--queue-url URL', help: 'an SQS work queue with a RedrivePolicy (its DLQ); AWS_REGION, AWS_ENDPOINT_URL_SQS and the SDK credential chain apply' },
  enqueue: { spec: { type: 'boolean' }, usage: '--enqueue', help: 'send the planned messages to --queue-url (copiers do the rest)' },
  'state-table': { spec: { type: 'string' }, usage: '--state-table NAME', help: "status: the deployment's DynamoDB state table, to show its last runs (default: $SWRM_STATE_TABLE)" },
  'until-empty': { spec: { type: 'boolean' }, usage: '--until-empty', help: 'stop when the queue reads empty (default: run until SIGINT/SIGTERM)' },
  'long-queue-url': { spec: { type: 'string' }, usage: '--long-queue-url URL', help: "also the long-haul queue's counts: images too long for Lambda, for `work` (the stack output LongQueueUrl; default: LONG_QUEUE_URL)" },
  explain: { spec: { type: 'boolean' }, usage: '--explain', help: 'per rule: the repositories and tags each filter kept and dropped, and why' },
  pace: { spec: { type: 'boolean' }, usage: '--pace', help: 'Docker Hub: spread the source GETs over the pull-limit window instead of leaving the rest for a later replay' },
  deep: { spec: { type: 'boolean' }, usage: '--deep', help: 'verify: HEAD every child manifest and blob of each image at the destination, not only its top manifest; sync: copy again only what of them is missing' },
  'full-check': { spec: { type: 'boolean' }, usage: '--full-check', help: 'sync: HEAD every destination tag, trusting no record of an earlier push (done anyway every defaults.fullCheckEvery, 24h)' },
  force: { spec: { type: 'boolean' }, usage: '--force', help: 'push the manifest even when the destination already has it (image-syncer --force)' },
  registry: { spec: { type: 'string' }, usage: '--registry HOST', help: 'image-syncer: registry for empty ("") destinations of an images file (env DEFAULT_REGISTRY)' },
  namespace: { spec: { type: 'string', short: 'n' }, usage: '-n, --namespace NS', help: 'sync/plan/verify: namespace for empty ("") destinations of an images file (env DEFAULT_NAMESPACE); images-from-cluster: Kubernetes namespaces (comma list; default all)' },
  'output-success-images': { spec: { type: 'string' }, usage: '--output-success-images FILE', help: 'write the images that were copied or already present, as an images file' },
  'output-images-format': { spec: { type: 'string' }, usage: '--output-images-format yaml|json', help: 'format of --output-success-images (default yaml)' },
  log: { spec: { type: 'string' }, usage: '--log FILE', help: 'write the JSON log lines to FILE instead of stderr' },
  kubeconfig: { spec: { type: 'string' }, usage: '--kubeconfig FILE', help: 'kubeconfig to read (default: $KUBECONFIG, then ~/.kube/config)' },
  context: { spec: { type: 'string' }, usage: '--context NAME', help: 'kubeconfig context (default: its current-context)' },
  target: { spec: { type: 'string' }, usage: '--target REGISTRY/ORG', help: 'where the listed images go, e.g. swr.cn-north-4.myhuaweicloud.com/mirror' },
  out: { spec: { type: 'string' }, usage: '--out FILE', help: 'write the images file here (default: stdout)' },
  rewrite: { spec: { type: 'boolean' }, usage: '--rewrite', help: 'also print the kubectl set image commands that point the workloads at the target (never applied)' },
  listen: { spec: { type: 'string' }, usage: '--listen HOST:PORT', help: 'serve: where /healthz, /metrics and /hooks/... answer (default: 127.0.0.1:8080)' },
  'state-dir': { spec: { type: 'string' }, usage: '--state-dir DIR', help: `serve: the DLQ (dlq.jsonl), digest memo, records and queue journal (queue.jsonl) (default: ${DEFAULT_DLQ_PATH.replace(/\/[^/]*$/, '')})` },
  'no-initial-sync': { spec: { type: 'boolean' }, usage: '--no-initial-sync', help: 'serve without a schedule: do not run a full sync at start (webhooks only)' },
  'drain-timeout': { spec: { type: 'string' }, usage: '--drain-timeout SECONDS', help: 'serve: how long copies in flight may finish after SIGTERM/SIGINT; the rest stays journalled (default 25)' },
  help: { spec: { type: 'boolean', short: 'h' }, usage: '-h, --help', help: 'this help' },
} as const satisfies Record<string, OptionDoc>;

type OptionName = keyof typeof OPTIONS;

export interface CommandSpec {
  usage: string;
  summary: string;
  options: OptionName[];
  /** Positional arguments it takes: exactly this many. */
  args: number;
  notes?: string;
}

const INPUTS: OptionName[] = ['config', 'images', 'auth'];
const COMMON: OptionName[] = ['log-level', 'help'];

export const EXIT_CODES = `Exit codes:
  0    success (every image copied or already present)
  1    failure (for sync and replay: the failed images are in the DLQ)
  2    usage or config error
  130  interrupted (SIGINT, Ctrl-C)
  143  terminated (SIGTERM)
  Unfinished work is written to the DLQ on either signal; 'swr-migrate replay' finishes it.`;

export const COMMANDS: Record<string, CommandSpec> = {
  copy: {
    usage: 'swr-migrate copy SRC DST [options]',
    summary: 'copy one image with all its platforms (a DST without a tag keeps the source tag)',
    options: ['auth', 'timeout', 'format', ...COMMON],
    args: 2,
  },
  sync: {
    usage: 'swr-migrate sync (--config FILE | --images FILE [--auth FILE]) [options]',
    summary: 'plan, then copy every image with N copiers until done; failures go to the DLQ',
    options: [...INPUTS, 'proc', 'retries', 'os', 'arch', 'format', 'dry-run', 'report', 'dlq', 'timeout', 'queue-url', 'pace', 'force', 'deep', 'full-check', 'registry', 'namespace', 'output-success-images', 'output-images-format', 'log', ...COMMON],
    args: 0,
    notes: 'With --queue-url the messages go to SQS and --proc local workers run the Lambda copier handler on them until this run is settled; failures go to the queue\'s DLQ.',
  },
  plan: {
    usage: 'swr-migrate plan (--config FILE | --images FILE [--auth FILE]) [options]',
    summary: 'print the images a sync would copy, then a summary',
    options: [...INPUTS, 'os', 'arch', 'format', 'json', 'dlq', 'timeout', 'enqueue', 'queue-url', 'explain', 'registry', 'namespace', ...COMMON],
    args: 0,
    notes: 'With --enqueue --queue-url the planned messages are sent to the SQS queue, and nothing is copied. A rule with prune lists the tags it would delete (the records of pushed tags are read beside --dlq).',
  },
  verify: {
    usage: 'swr-migrate verify (--config FILE | --images FILE [--auth FILE]) [options]',
    summary: 'compare source and destination digests of every planned image (HEAD requests); exit 1 if any differ',
    // --dlq: verify reads the digest memo kept beside the DLQ (state/digest-memo-file.ts).
    // --registry/--namespace: an images file's empty destinations, as sync and plan read them.
    options: [...INPUTS, 'proc', 'os', 'arch', 'format', 'json', 'dlq', 'timeout', 'registry', 'namespace', 'deep', ...COMMON],
    args: 0,
  },
  replay: {
    usage: 'swr-migrate replay (--config FILE | --auth FILE) [options]',
    summary: 'run the DLQ again; remove what now succeeds, keep what fails with the new reason',
    // --pace: the letters a spent pull budget left for later say "replay ... or run with --pace".
    options: [...INPUTS, 'proc', 'retries', 'report', 'dlq', 'timeout', 'queue-url', 'pace', ...COMMON],
    args: 0,
    notes:
      'Only credentials are needed: the rules of a --config are not used, and an --images file is not read.\n' +
      'With --queue-url: no inputs; SQS moves the DLQ back onto the queue (StartMessageMoveTask) and replay waits for the move.',
  },
  work: {
    usage: 'swr-migrate work --queue-url URL (--config FILE | --auth FILE) [options]',
    summary: 'run --proc copiers on an SQS queue (the Lambda copier handler, locally): EC2, a container, any machine',
    options: [...INPUTS, 'proc', 'retries', 'report', 'timeout', 'queue-url', 'until-empty', ...COMMON],
    args: 0,
    notes: 'Only credentials are needed, as for replay. Without --until-empty it runs until SIGINT or SIGTERM; unfinished messages go back to the queue.',
  },
  serve: {
    usage: 'swr-migrate serve --config FILE [--listen HOST:PORT] [--state-dir DIR] [options]',
    summary: 'run continuously: scheduled syncs, webhook re-checks, /healthz and /metrics; the queue survives a restart',
    options: ['config', 'listen', 'state-dir', 'proc', 'retries', 'timeout', 'pace', 'no-initial-sync', 'drain-timeout', 'log', ...COMMON],
    args: 0,
    notes:
      'Without `schedule:` in the config, one full sync runs at start (not with --no-initial-sync, nor when the journal has work to resume).\n' +
      'SIGTERM/SIGINT: webhooks and /healthz answer 503, copies in flight get --drain-timeout, the rest stays in the journal; exit 143/130. See docs/serve.md.',
  },
  status: {
    usage: 'swr-migrate status --queue-url URL [--long-queue-url URL] [--state-table NAME] [--json]',
    summary: "print an SQS queue's visible, in-flight and DLQ counts, the DLQ's reasons by code (not consumed), and the last runs",
    options: ['queue-url', 'long-queue-url', 'state-table', 'json', ...COMMON],
    args: 0,
  },
  'images-from-cluster': {
    usage: 'swr-migrate images-from-cluster --target REGISTRY/ORG [--kubeconfig FILE] [--context C] [-n ns1,ns2] [--out images.yaml] [--rewrite]',
    summary: 'list the images a Kubernetes cluster runs and write an image-syncer images file mapping each to the target',
    options: ['kubeconfig', 'context', 'namespace', 'target', 'out', 'rewrite', ...COMMON],
    args: 0,
  },
  demo: {
    usage: 'swr-migrate demo',
    summary: 'start two local registries, seed them, sync twice, verify (needs docker-registry)',
    options: [...COMMON],
    args: 0,
  },
};

export function commandHelp(name: string): string {
  const c = COMMANDS[name]!;
  const width = Math.max(...c.options.map((o) => OPTIONS[o].usage.length)) + 2;
  const lines = c.options.map((o) => `  ${OPTIONS[o].usage.padEnd(width)}${OPTIONS[o].help}`);
  return `${c.usage}\n\n${c.summary}\n${c.notes ? `\n${c.notes}\n` : ''}\nOptions:\n${lines.join('\n')}\n\n${EXIT_CODES}\n`;
}

export function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return `swr-migrate: migrate container images between Docker Registry V2 / OCI registries (and into Huawei Cloud SWR)

Usage: swr-migrate COMMAND [options]     'swr-migrate COMMAND --help' lists a command's options

Commands:
${names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.summary}`).join('\n')}

  -h, --help     this help
  -v, --version  the version

${EXIT_CODES}
`;
}

export type Flags = Record<string, string | string[] | boolean | undefined>;

/** Splits off the command (the first positional wherever it is), then parses strictly for it. */
export function parseCommandLine(argv: string[]): { command: string | undefined; values: Flags; args: string[] } {
  const all: Options = Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, v.spec]));
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { ...all, version: { type: 'boolean', short: 'v' } } });
  const command = loose.positionals[0];
  if (command === undefined || !(command in COMMANDS)) {
    // No command: only --help and --version mean something.
    const { values } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: false,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
    return { command, values: values as Flags, args: loose.positionals.slice(1) };
  }
  const spec = COMMANDS[command]!;
  const options: Options = Object.fromEntries(spec.options.map((o) => [o, OPTIONS[o].spec]));
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    // node:util names the flag ("Unknown option '--arch'"); say which command refused it.
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${msg}; see 'swr-migrate ${command} --help'`);
  }
  const args = parsed.positionals.slice(1);
  if (!parsed.values.help && args.length !== spec.args) {
    throw new UsageError(
      spec.args ? `${command} takes exactly ${spec.args} arguments (${spec.usage})` : `unexpected argument "${args[0]}" for ${command}`,
    );
  }
  return { command, values: parsed.values as Flags, args };
}

// Queue messages, one zod schema per kind, versioned. A message names images and where they go;
// it never carries credentials (each worker resolves those from its own config).
import { z } from 'zod';
import { InvalidMessageError } from '../errors.js';
import { printable } from '../text.js';
import { maskSecretText } from '../secrets.js';
import { isValidTag, parseRepositoryReference } from '../oci/reference.js';
import { ecrEventRecheck, isEcrEvent } from '../vendors/ecr/events.js';

const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/);
/** `docker`: convert OCI media types to Docker's; `keep`: push as is. Absent: the destination decides (SWR Basic converts). */
const format = z.enum(['docker', 'keep']);
/**
 * The scheduled run a message belongs to (lib/state/runs.ts): set by the Lambda planner when a state
 * table is configured, inherited by the messages an expansion sends. Absent: no run counts it.
 */
const run = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);
/** `overwrite: false` (a rule's): a destination tag holding another digest is kept, never overwritten. */
const overwrite = z.literal(false);
/**
 * A rule's `prune` (lib/pipeline/prune.ts): after a full, non-empty listing of the source, delete the
 * destination tags this tool pushed from it that the source no longer has, at most `max` a run,
 * never one matching `protect`. `maxGiven: false`: max is the default (a warning says so).
 */
const prune = z.strictObject({
  max: z.number().int().positive().max(100_000),
  maxGiven: z.boolean().optional(),
  protect: z.array(z.string().min(1).max(256)).max(100).optional(),
});

/** Copy one image (all its platforms, or those listed) from source to destination. */
export const copyImageMessage = z.strictObject({
  v: z.literal(1),
  kind: z.literal('copy-image'),
  /** A full reference with a tag and/or digest. */
  source: z.string().min(1).max(1024),
  /** A full reference with a tag, or with a digest (pushed by digest). */
  destination: z.string().min(1).max(1024),
  platforms: z.array(platform).optional(),
  format: format.optional(),
  /** The rule it came from, for reports. */
  origin: z.string().max(1024).optional(),
  /** --force: PUT the manifest even when the destination has the digest (copy/copy-image.ts). */
  force: z.boolean().optional(),
  /** --deep: "already there" needs every child manifest and blob there too, else the copy repairs it. */
  deep: z.boolean().optional(),
  /** --full-check: no record of the destination stands for a HEAD (copy/destination-state.ts). */
  fullCheck: z.boolean().optional(),
  /**
   * The digest the source's listing API gave for the tag when it was planned (plan/rule-tags.ts):
   * the copy takes it for the source HEAD's answer. Stale at worst by the time between planning
   * and copying, as a HEAD is; what is copied is still verified against its digest.
   */
  listedDigest: z.string().regex(/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/).optional(),
  /**
   * What the destination tag held when a copier expanded the rule (copy/destination-state.ts):
   * `fresh` (an empty repository), `absent` (the tag list does not name it) or the digest a record or
   * the registry's listing gave. The copy takes it for its destination HEAD; as stale at worst as
   * the time between the expansion and the copy.
   */
  destinationSeen: z.union([z.enum(['fresh', 'absent']), z.string().regex(/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/)]).optional(),
  /** The rule's destination registries (2+): the copier shares the source's blobs among them (copy/source-share.ts). */
  fanOut: z.number().int().min(2).max(10_000).optional(),
  overwrite: overwrite.optional(),
  run: run.optional(),
});

/**
 * List a repository's tags and fan out one copy-image message per kept tag. Used when planning a
 * rule failed (e.g. the repository did not exist yet), so that `replay` can plan it again.
 */
export const expandRepositoryMessage = z.strictObject({
  v: z.literal(1),
  kind: z.literal('expand-repository'),
  /** registry/repository, no tag. */
  source: z.string().min(1).max(1024),
  destinations: z.array(z.string().min(1).max(1024)).min(1),
  filter: z
    .strictObject({
      include: z.array(z.string()).optional(),
      exclude: z.array(z.string()).optional(),
      latest: z.number().int().positive().optional(),
      /** A semver range over the tags (plan/tags.ts). */
      semver: z.string().min(1).max(256).optional(),
      /** Tags pushed within N days, where the source gives push times. */
      pushedWithinDays: z.number().int().positive().optional(),
    })
    .optional(),
  platforms: z.array(platform).optional(),
  format: format.optional(),
  force: z.boolean().optional(),
  deep: z.boolean().optional(),
  fullCheck: z.boolean().optional(),
  overwrite: overwrite.optional(),
  prune: prune.optional(),
  origin: z.string().max(1024).optional(),
  run: run.optional(),
});

/**
 * List the repositories a namespace rule (`HOST/team/**`) covers and fan out one expand-repository
 * message per kept one. Sent when the rule's listing failed at plan time (issue 13, item 6), so a
 * copier lists it again, and `replay` can, without the other rules waiting for it.
 */
export const expandNamespaceMessage = z.strictObject({
  v: z.literal(1),
  kind: z.literal('expand-namespace'),
  /** registry/glob, as the rule wrote it (`quay.io/team/**`). */
  source: z.string().min(1).max(1024),
  namespace: z.strictObject({
    glob: z.string().min(1).max(1024),
    namespace: z.string().min(1).max(1024).optional(),
    include: z.array(z.string().max(1024)).optional(),
    exclude: z.array(z.string().max(1024)).optional(),
    targets: z.array(z.string().min(1).max(1024)).min(1),
    mapping: z.strictObject({
      mode: z.enum(['path', 'basename']),
      stripLevels: z.number().int().nonnegative().optional(),
      prefix: z.string().max(1024).optional(),
      template: z.string().max(1024).optional(),
    }),
  }),
  filter: expandRepositoryMessage.shape.filter,
  platforms: z.array(platform).optional(),
  format: format.optional(),
  force: z.boolean().optional(),
  deep: z.boolean().optional(),
  fullCheck: z.boolean().optional(),
  overwrite: overwrite.optional(),
  prune: prune.optional(),
  origin: z.string().max(1024).optional(),
  run: run.optional(),
});

/**
 * Listed rules that share destination repositories (plan/conflicts.ts overlapGroups), with the
 * exact images of the group's other rules: one message, so the copier that lists them sees every
 * image of the group and holds back conflicting ones (SWRM_DESTINATION_CONFLICT), as `sync` does,
 * instead of independent expansions racing for one tag (issue 14, item 3).
 */
export const expandGroupMessage = z.strictObject({
  v: z.literal(1),
  kind: z.literal('expand-group'),
  rules: z.array(expandRepositoryMessage).min(1).max(1000),
  copies: z.array(copyImageMessage).max(5000).optional(),
  run: run.optional(),
});

/** Who told us about a change (lib/events): a webhook sender, ECR through EventBridge, or distribution. */
export const EVENT_VIA = ['harbor', 'dockerhub', 'quay', 'github', 'ecr', 'distribution'] as const;

/** `registry/repository`, fully written (no tag, no digest, no docker.io default to fill in). */
function isRepositorySource(s: string): boolean {
  try {
    const ref = parseRepositoryReference(s);
    return ref.tag === undefined && ref.digest === undefined && `${ref.registry}/${ref.repository}` === s;
  } catch {
    return false;
  }
}

/**
 * Re-check one source repository (issue 16, continuous mirroring): an event said something changed
 * there. Events are hints, the sync is the truth: the copier does for this repository what a
 * scheduled run does under the rules that cover it (pipeline/recheck.ts). `tags` is what the sender
 * named (for logs; the re-check looks at the whole repository as its rules say); absent: none named.
 */
export const recheckMessage = z.strictObject({
  v: z.literal(1),
  kind: z.literal('recheck'),
  /** registry/repository, normalised as parseRepositoryReference writes it (`docker.io/library/nginx`). */
  source: z.string().min(1).max(1024).refine(isRepositorySource, { message: 'expected registry/repository, normalised, without a tag or digest' }),
  tags: z.array(z.string().refine(isValidTag, { message: 'expected a tag' })).min(1).max(100).optional(),
  /** `delete`: a tag went away; exact-tag rules have nothing to copy then, listed rules are listed again. */
  action: z.enum(['push', 'delete']),
  via: z.enum(EVENT_VIA),
  run: run.optional(),
});

export const queueMessage = z.discriminatedUnion('kind', [copyImageMessage, expandRepositoryMessage, expandNamespaceMessage, expandGroupMessage, recheckMessage]);

export type CopyImageMessage = z.infer<typeof copyImageMessage>;
export type ExpandRepositoryMessage = z.infer<typeof expandRepositoryMessage>;
export type ExpandNamespaceMessage = z.infer<typeof expandNamespaceMessage>;
export type ExpandGroupMessage = z.infer<typeof expandGroupMessage>;
export type RecheckMessage = z.infer<typeof recheckMessage>;
export type EventVia = RecheckMessage['via'];
/** A message that stands for a rule (its listing), not for one image. */
export type RuleMessage = ExpandRepositoryMessage | ExpandNamespaceMessage;

/**
 * Whether a message kind stands for rules to list rather than an image (summaries count them apart).
 * A recheck is one: it becomes the rules' messages for a repository, never an image of its own.
 */
export function isRuleKind(kind: string): kind is RuleMessage['kind'] | 'expand-group' | 'recheck' {
  return kind === 'expand-repository' || kind === 'expand-namespace' || kind === 'expand-group' || kind === 'recheck';
}

/** Where a rule message sends its images, for reports: its destinations or its targets. */
export function ruleDestinationText(m: RuleMessage | ExpandGroupMessage | RecheckMessage): string {
  if (m.kind === 'recheck') return 'the rules covering it';
  if (m.kind === 'expand-group') return [...new Set(m.rules.flatMap((r) => r.destinations))].join(', ');
  return m.kind === 'expand-repository' ? m.destinations.join(', ') : m.namespace.targets.join(', ');
}

/** A rule message's source, for reports: a group names its first rule and how many more it holds. */
export function ruleSourceText(m: RuleMessage | ExpandGroupMessage | RecheckMessage): string {
  if (m.kind === 'recheck') return `${m.source} (${m.via} ${m.action})`;
  if (m.kind !== 'expand-group') return m.source;
  const more = m.rules.length - 1 + (m.copies?.length ? 1 : 0);
  return more > 0 ? `${m.rules[0]!.source} (and ${more} more rule(s) sharing its destinations)` : m.rules[0]!.source;
}
export type QueueMessageBody = z.infer<typeof queueMessage>;

export function encodeMessage(m: QueueMessageBody): string {
  return JSON.stringify(m);
}

/** The run a message body belongs to; undefined for one without a run or not a valid message. */
export function runOf(body: string): string | undefined {
  try {
    return decodeMessage(body).run;
  } catch {
    return undefined;
  }
}

export function decodeMessage(body: string): QueueMessageBody {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    // The excerpt goes to logs and the DLQ reason: a foreign producer's body may hold a secret.
    throw new InvalidMessageError(`message is not JSON: ${printable(maskSecretText(body), 80)}`);
  }
  // EventBridge delivers an ECR event as the SQS body itself when its rule's target has no input
  // transformer (docs/events.md): the copier takes it for the recheck it stands for.
  if (isEcrEvent(json)) json = ecrEventRecheck(json);
  const parsed = queueMessage.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const path = first?.path.join('.') || '(top level)';
    throw new InvalidMessageError(`invalid message at ${path}: ${first?.message ?? 'does not match any kind'}`);
  }
  return parsed.data;
}

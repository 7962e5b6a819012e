// Image references as the docker CLI understands them, following distribution's `reference`
// package (reference/regexp.go for the grammar, normalize.go for the docker.io defaults), so a
// name a user copies from `docker pull` means the same thing here.

import { InvalidReferenceError } from '../errors.js';
import { digestProblem } from './digest.js';

export interface ImageReference {
  /** Host with optional port, normalised: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string;
  /** Path below the registry, e.g. `library/alpine`. What goes in `/v2/<name>/`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_REGISTRY = 'docker.io';
const DEFAULT_TAG = 'latest';
/** Docker Hub's official images live under `library/` (normalize.go, officialRepoPrefix). */
const OFFICIAL_PREFIX = 'library/';
/** Spellings of Docker Hub that docker normalises to `docker.io` (legacyDefaultDomain and the API host). */
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io']);
/** NameTotalLengthMax in distribution; the OCI distribution spec notes clients commonly apply it. */
const NAME_MAX = 255;
const TAG_MAX = 128;

// regexp.go: domain components allow uppercase (hostnames are case-insensitive), paths do not.
const DOMAIN_COMPONENT = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const DOMAIN = new RegExp(`^(?:\\[[a-fA-F0-9:]+\\]|${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*)(?::[0-9]+)?$`);
// regexp.go writes the separator as `[._]|__|[-]*`; `-+` matches the same names without the
// ambiguity that makes the starred form backtrack badly on long inputs.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The tag grammar of the distribution spec (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). Tags read from a
 * registry are checked with it before they become part of a reference: a listed `x@sha256:...`
 * would otherwise re-parse as a digest pin.
 */
export function isValidTag(tag: string): boolean {
  return tag.length <= TAG_MAX && TAG.test(tag);
}

/**
 * Parse a pull-style reference, defaulting the tag to `latest` when neither a tag nor a digest is
 * given (docker's TagNameOnly). `alpine` -> docker.io/library/alpine:latest.
 */
export function parseReference(input: string): ImageReference {
  const ref = parse(input);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/**
 * Parse without defaulting the tag: a destination such as `host/ns/repo` means "keep the source
 * tags" (image-syncer semantics), which a silent `:latest` would break.
 */
export function parseRepositoryReference(input: string): ImageReference {
  return parse(input);
}

export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/**
 * The `<reference>` of `/v2/<name>/manifests/<reference>`. A digest wins over a tag: it is
 * immutable, and `name:tag@digest` means "this digest" to docker as well.
 */
export function manifestTarget(ref: ImageReference): string {
  const target = ref.digest ?? ref.tag;
  if (target === undefined) {
    throw new InvalidReferenceError(formatReference(ref), 'neither a tag nor a digest to fetch');
  }
  return target;
}

/** `docker.io` is a name, not a host that serves the registry API; Docker Hub serves it here. */
export function registryEndpointHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? 'registry-1.docker.io' : registry;
}

/**
 * skopeo's transport prefix (`docker://quay.io/a:1`): users of skopeo and image-syncer write it, and
 * it names the same image, so it is dropped. Other transports (`oci:`, `dir:`) are not registries.
 */
export function stripTransport(input: string): string {
  return input.startsWith(DOCKER_TRANSPORT) ? input.slice(DOCKER_TRANSPORT.length) : input;
}
const DOCKER_TRANSPORT = 'docker://';

function parse(input: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(input, reason);
  };
  if (input === '') fail('reference is empty');

  let rest = stripTransport(input);
  if (rest === '') fail('reference is empty after "docker://"');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest === '') fail('digest after "@" is empty');
    const problem = digestProblem(digest);
    if (problem !== undefined) fail(`invalid digest: ${problem}`);
  }

  // A ':' after the last '/' starts a tag; an earlier one is a registry port (`host:5000/app`).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === '') fail('tag after ":" is empty');
    if (tag.length > TAG_MAX) fail(`tags are at most ${TAG_MAX} characters, got ${tag.length}`);
    if (!TAG.test(tag)) {
      fail(`tag "${tag}" may contain only letters, digits, "_", "." and "-", and cannot start with "." or "-"`);
    }
  }

  if (rest === '') fail('repository name is empty');
  if (rest.length > NAME_MAX) fail(`repository name is longer than ${NAME_MAX} characters`);

  const { registry, repository } = splitRegistry(rest, fail);
  if (repository !== repository.toLowerCase()) fail('repository names must be lowercase');
  for (const component of repository.split('/')) {
    if (component === '') fail('repository path has an empty component (leading, trailing or double "/")');
    if (!PATH_COMPONENT.test(component)) {
      fail(`path component "${component}" may contain only a-z, 0-9 and single separators ".", "_", "__" or "-"`);
    }
  }

  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/**
 * normalize.go splitDockerDomain: the first component is a registry host only if it looks like one
 * ('.' or ':' or exactly `localhost`), so `user/app` is a Docker Hub repository. Unlike docker we do
 * not treat an uppercase first component as a host: `User/app` is far more often a typo than a
 * registry, and the lowercase error says what is wrong.
 */
function splitRegistry(name: string, fail: (reason: string) => never): ImageReference {
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  let registry = DEFAULT_REGISTRY;
  let repository = name;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) fail(`registry "${first}" is not a valid host[:port]`);
    registry = DOCKER_HUB_ALIASES.has(first) ? DEFAULT_REGISTRY : first;
    repository = name.slice(slash + 1);
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository;
  return { registry, repository };
}

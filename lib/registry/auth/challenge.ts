// Parsing of `WWW-Authenticate` challenges (RFC 7235 section 4.1) as registries send them:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"
//   Basic realm="Registry Realm"
// Parameter values may be quoted (with backslash escapes) or bare tokens.

export interface Challenge {
  scheme: 'bearer' | 'basic' | string;
  params: Record<string, string>;
}

/** Parse every challenge in a header value; unknown schemes are kept so callers can name them. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(input: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  let current: Challenge | undefined;
  const skipSpace = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  while (i < input.length) {
    skipSpace();
    if (input[i] === ',') {
      i++;
      continue;
    }
    const tokenMatch = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(input.slice(i));
    if (!tokenMatch) break;
    const token = tokenMatch[0];
    i += token.length;
    skipSpace();
    if (input[i] === '=' && current) {
      // auth-param: name=value
      i++;
      skipSpace();
      let value = '';
      if (input[i] === '"') {
        i++;
        while (i < input.length && input[i] !== '"') {
          if (input[i] === '\\' && i + 1 < input.length) i++;
          value += input[i];
          i++;
        }
        i++; // closing quote
      } else {
        const bare = /^[^,\s]*/.exec(input.slice(i))?.[0] ?? '';
        value = bare;
        i += bare.length;
      }
      current.params[token.toLowerCase()] = value;
    } else {
      // a new scheme starts
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** The challenge we will answer: Bearer preferred over Basic (Docker does the same). */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

/** Token scope for a repository (distribution docs/spec/auth/scope.md). */
export function repositoryScope(repository: string, actions: readonly string[], type = 'repository'): string {
  return `${type}:${repository}:${actions.join(',')}`;
}

/**
 * Split a scope into its parts. The resource name may itself contain `host:port`, so split on the
 * first and the LAST colon, never naively.
 */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = scope.slice(last + 1);
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: actions ? actions.split(',') : [],
  };
}

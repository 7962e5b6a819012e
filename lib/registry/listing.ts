// One page of a tag list or catalog (distribution spec, "Listing Tags" / "Catalog"). Entries are
// remote text that flows into references, logs, reports and queue messages, so anything that is not
// a valid tag or repository name (the spec's grammars) is dropped here rather than escaped later.
import { ProtocolError } from '../errors.js';

/** Tag grammar of the distribution spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Repository name grammar: path components joined by `/`, at most 255 characters in all. */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

export interface ListPage {
  kept: string[];
  /** Entries that were not strings or not valid names. */
  dropped: number;
}

export function isValidListEntry(field: 'tags' | 'repositories', value: unknown): value is string {
  if (typeof value !== 'string') return false;
  return field === 'tags' ? TAG.test(value) : value.length <= 255 && REPOSITORY.test(value);
}

/** Parse a page body. Throws SyntaxError for JSON that does not parse (a truncated body, usually). */
export function listEntries(body: Buffer, field: 'tags' | 'repositories', what: string): ListPage {
  const json = JSON.parse(body.toString('utf8')) as unknown;
  if (typeof json !== 'object' || json === null) throw new ProtocolError(`${what}: the answer is not a JSON object`);
  const list = (json as Record<string, unknown>)[field];
  // distribution answers `"tags": null` for a repository whose tags were all deleted.
  if (list == null) return { kept: [], dropped: 0 };
  if (!Array.isArray(list)) throw new ProtocolError(`${what}: "${field}" is not a list`);
  const kept: string[] = [];
  for (const item of list) if (isValidListEntry(field, item)) kept.push(item);
  return { kept, dropped: list.length - kept.length };
}

// What a DLQ stores, and which letters are about the same image. Every DLQ (the file, the SQS DLQ,
// the in-memory one) stores through deadLetterBody and, where it can, keeps one letter per image.
import { maskBody } from '../secrets.js';
import { decodeMessage, type QueueMessageBody } from './messages.js';
import type { DeadLetter } from './types.js';

function decoded(body: string): QueueMessageBody | undefined {
  try {
    return decodeMessage(body);
  } catch {
    return undefined;
  }
}

/**
 * The body a DLQ stores. A valid message is kept byte for byte: it carries no credentials (the
 * schema has no field for them), and replay must run exactly what failed, so masking it "by
 * shape" could only corrupt it (`traefik-forward-auth:2.2` once became `...:[redacted]`). Any
 * other body may be what a foreign producer sent, secrets included: it is masked (maskBody).
 */
export function deadLetterBody(body: string): string {
  return decoded(body) ? body : maskBody(body);
}

/**
 * The image a letter is for: kind, source and destination(s) of a valid message, so the same image
 * planned by two rules (another `origin`, `platforms` or `force`) is one image; the masked body of
 * anything else (a raw letter and its masked copy are the same letter).
 */
export function letterKey(body: string): string {
  const m = decoded(body);
  if (!m) return JSON.stringify(['body', maskBody(body)]);
  if (m.kind === 'copy-image') return JSON.stringify([m.kind, m.source, m.destination]);
  // A group is its rules: the same rules listed together are the same letter.
  if (m.kind === 'expand-group') return JSON.stringify([m.kind, m.rules.map((r) => [r.source, [...r.destinations].sort()]).sort()]);
  // A recheck is its repository: a push and a delete of it re-check the same thing (pipeline/recheck.ts).
  if (m.kind === 'recheck') return JSON.stringify([m.kind, m.source]);
  const targets = m.kind === 'expand-repository' ? m.destinations : m.namespace.targets;
  return JSON.stringify([m.kind, m.source, [...targets].sort()]);
}

export interface ImageLetters {
  /** The newest letter of each image, in the order the images first appear. */
  newest: DeadLetter[];
  /** Every other letter: an older one for an image that has a newer letter. */
  duplicates: DeadLetter[];
  /** letterKey of each letter's body, by letter id. */
  keys: Map<string, string>;
}

/** Letters grouped by image. Newest by `at`; on a tie the later in `letters` (a file's later line). */
export function byImage(letters: readonly DeadLetter[]): ImageLetters {
  const keys = new Map<string, string>();
  const newest = new Map<string, DeadLetter>();
  const duplicates: DeadLetter[] = [];
  for (const l of letters) {
    const key = letterKey(l.body);
    keys.set(l.id, key);
    const held = newest.get(key);
    if (!held) newest.set(key, l);
    else if (Date.parse(l.at) >= Date.parse(held.at) || Number.isNaN(Date.parse(held.at))) {
      duplicates.push(held);
      newest.set(key, l);
    } else duplicates.push(l);
  }
  return { newest: [...newest.values()], duplicates, keys };
}

export interface DeadLetterGroup {
  code: string;
  /** Images whose newest letter has this code (a duplicate letter is not counted again). */
  count: number;
  /** One letter's message, as an example. */
  example: string;
}

/** What a DLQ holds, as far as one listing saw. */
export interface DeadLetterCensus {
  /** Letters read. */
  letters: number;
  /** Distinct images among them. */
  images: number;
  /** letters - images: older letters for an image that has a newer one. */
  duplicates: number;
  /** By code, most frequent first, each image counted once (by its newest letter). */
  reasons: DeadLetterGroup[];
}

export function census(letters: readonly DeadLetter[]): DeadLetterCensus {
  const { newest, duplicates } = byImage(letters);
  const groups = new Map<string, DeadLetterGroup>();
  for (const l of newest) {
    const g = groups.get(l.reason.code);
    if (g) g.count++;
    else groups.set(l.reason.code, { code: l.reason.code, count: 1, example: l.reason.message });
  }
  const reasons = [...groups.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  return { letters: letters.length, images: newest.length, duplicates: duplicates.length, reasons };
}

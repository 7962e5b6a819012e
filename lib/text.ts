// Remote text (registry error messages, header values, tag names) is attacker-controlled. Before it
// reaches a terminal, a log line, a report or a DLQ message it loses every control character: an
// ESC sequence could rewrite the user's terminal, a newline could forge a log line or break the
// one-line error rule, and bidi overrides (CVE-2021-42574, "Trojan Source") could disguise a name.

/** C0/C1 controls and DEL, line/paragraph separators, and the bidi embedding/override/isolate marks. */
const CONTROL = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** Longest remote string we quote in a message; the rest is cut off with an ellipsis. */
export const MAX_REMOTE_TEXT = 300;

/**
 * Make remote text safe to print: control characters become a space (so words stay apart), runs of
 * blanks collapse, and the result is cut to `max` characters.
 */
export function remoteText(text: string, max = MAX_REMOTE_TEXT): string {
  const clean = text.replace(CONTROL, ' ').replace(/ {2,}/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** True when the text carries nothing that `remoteText` would change (besides length). */
export function isPrintable(text: string): boolean {
  CONTROL.lastIndex = 0;
  return !CONTROL.test(text);
}

/**
 * Untrusted text inside a one-line message, kept recognisable: control, line-separator and bidi
 * characters are escaped (`\n`, `\u001b`) rather than blanked, and the text is cut after `max`
 * characters, so an error is never split over lines or megabytes long. For the user's own input
 * (a reference, a config key), where seeing exactly what was typed helps; `remoteText` is for text
 * a registry sent.
 */
export function printable(text: string, max = 512): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(CONTROL, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

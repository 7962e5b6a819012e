// Temporary files for end-to-end tests (configs, image lists, DLQs, reports), removed with the rest
// of the harness.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './cleanup.js';

export function tempDir(prefix = 'swrm-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  track({ stopSync: () => rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

export function writeFile(dir: string, name: string, content: string | object): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** A dead letter as the file DLQ stores it (lib/queue/dlq-file.ts), for assertions. */
export interface StoredLetter {
  id: string;
  body: string;
  at: string;
  receiveCount: number;
  reason: { code: string; message: string };
}

/** The letters of a JSON-lines DLQ file; none when it does not exist (yet). */
export function readLetters(file: string): StoredLetter[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StoredLetter)
    : [];
}

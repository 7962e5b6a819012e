// The digest memo as a JSON-lines file next to the DLQ (`.swr-migrate/digests.jsonl`): the memo's
// group of a FileStateStore (file-store.ts) in that directory. Appends happen under the file's lock,
// so two processes writing at once lose nothing, and a crash can at worst tear the last line, which
// the reader skips. Lines written before the state store (`{source, transform, digest, detail?,
// filtered?}`) are read as they are; new lines carry the same fields plus the store's `_g`/`_id`,
// so an older version of the tool still reads the file. Facts never change, so nothing is rewritten.
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { MEMO_GROUP, StoreDigestMemo, memoData, memoEntryFrom, memoStateKey } from './digest-memo.js';
import { type FileGroup, FileStateStore } from './file-store.js';

export const MEMO_FILE_NAME = 'digests.jsonl';

/** The memo lives in the same directory as the DLQ file: one place for a run's local state. */
export function memoPathFor(dlqPath: string): string {
  return join(dirname(dlqPath), MEMO_FILE_NAME);
}

/** How the state store reads the memo's file, old lines included. */
export function memoFileGroup(file = MEMO_FILE_NAME): FileGroup {
  return {
    file,
    legacy: (raw) => {
      const m = memoEntryFrom(raw);
      return m && { id: memoStateKey(m.source, m.transform).id, data: memoData(m.source, m.transform, m.entry) };
    },
  };
}

/** The state directory's store, with the memo in its own (historical) file. */
export function fileStateStore(dir: string, logger?: Logger, memoFile = MEMO_FILE_NAME): FileStateStore {
  return new FileStateStore(dir, { groups: { [MEMO_GROUP]: memoFileGroup(memoFile) }, ...(logger ? { logger } : {}) });
}

export class FileDigestMemo extends StoreDigestMemo {
  declare readonly store: FileStateStore;

  constructor(
    readonly path: string,
    logger?: Logger,
  ) {
    super(fileStateStore(dirname(path), logger, basename(path)), logger);
  }

  /** Lines that did not parse to an entry (a torn line, a hand edit). */
  get corruptLines(): number {
    return this.store.corruptLines;
  }
}

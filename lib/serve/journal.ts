// serve's queue journal: every message of the embedded queue, kept in the state directory until it
// is settled (acked, or safely in the DLQ), so a process that is killed (SIGKILL, an OOM, a node
// drained without grace) resumes where it was instead of planning again. It is one group of the
// state store's file adapter (state/file-store.ts) in a file of its own, `queue.jsonl`: appends
// under the file's lock, a torn last line skipped, compaction once settled lines dominate.
// `sync` has no journal: a run that stops saves what is left to the DLQ instead.
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { QueueJournal } from '../queue/embedded.js';
import { FileStateStore } from '../state/file-store.js';

export const JOURNAL_GROUP = 'queue';
export const JOURNAL_FILE = 'queue.jsonl';

export class FileQueueJournal implements QueueJournal {
  private readonly store: FileStateStore;
  /** Order of sending, kept so a restart delivers in the same order (ids are random). */
  private seq = 0;

  constructor(
    readonly dir: string,
    private readonly logger?: Logger,
  ) {
    this.store = new FileStateStore(dir, { groups: { [JOURNAL_GROUP]: { file: JOURNAL_FILE } }, ...(logger ? { logger } : {}) });
  }

  async added(entries: readonly { id: string; body: string }[]): Promise<void> {
    const at = Date.now();
    // Each put joins the store's next locked append: one write for the whole batch.
    await Promise.all(entries.map((e) => this.store.put({ group: JOURNAL_GROUP, id: e.id }, { body: e.body, at, seq: this.seq++ })));
  }

  async removed(id: string): Promise<void> {
    try {
      await this.store.delete({ group: JOURNAL_GROUP, id });
    } catch (err) {
      // The message is settled; a line left behind only makes a restart run it once more (a skip).
      this.logger?.warn({ err: errorMessage(err) }, 'queue journal: cannot remove a settled message');
    }
  }

  /** What an earlier process left unsettled, oldest first; later sends are numbered after it. */
  async pending(): Promise<{ id: string; body: string }[]> {
    const records = await this.store.query(JOURNAL_GROUP, { limit: Number.MAX_SAFE_INTEGER });
    const order = (r: (typeof records)[number]) => [Number(r.data.at) || 0, Number(r.data.seq) || 0] as const;
    records.sort((a, b) => {
      const [at1, s1] = order(a);
      const [at2, s2] = order(b);
      return at1 - at2 || s1 - s2;
    });
    return records.filter((r) => typeof r.data.body === 'string').map((r) => ({ id: r.id, body: r.data.body as string }));
  }

  /** Lines of the file that could not be read (a crash mid-write). */
  get corruptLines(): number {
    return this.store.corruptLines;
  }
}

// The burst window (events.windowSeconds): a tag pushed for 5 platforms, a CI job pushing 20 tags,
// GitHub's one event per manifest, all become one re-check per repository. The first recheck for a
// repository starts the window; the ones that arrive before it ends merge into it; then it is sent.
// The key is the repository alone: a push and a delete merge into one re-check (a push, which does
// what a delete's does and copies exact tags too), since a re-check looks at the whole repository.
import { mergeTags } from './hints.js';
import { errorMessage } from '../errors.js';
import type { RecheckMessage } from '../queue/messages.js';

export interface CoalescerOptions {
  windowMs: number;
  send: (m: RecheckMessage) => Promise<void>;
  /** A send that failed (the message is dropped: the schedule is the backstop); default: one line on stderr. */
  onError?: (err: unknown, m: RecheckMessage) => void;
}

interface Pending {
  message: RecheckMessage;
  timer: NodeJS.Timeout;
}

export class Coalescer {
  private readonly waiting = new Map<string, Pending>();
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly opts: CoalescerOptions) {}

  /** Hold a recheck for the window, or merge it into the one already held for its repository. */
  offer(m: RecheckMessage): 'scheduled' | 'merged' {
    const held = this.waiting.get(m.source);
    if (held) {
      const merged = mergeTags(held.message.tags, m.tags);
      held.message = {
        ...held.message,
        ...(merged ? { tags: merged } : {}),
        action: held.message.action === 'push' || m.action === 'push' ? 'push' : 'delete',
      };
      if (!merged) delete held.message.tags;
      return 'merged';
    }
    const message = { ...m, ...(m.tags ? { tags: [...m.tags] } : {}) };
    const timer = setTimeout(() => this.release(m.source), this.opts.windowMs);
    this.waiting.set(m.source, { message, timer });
    return 'scheduled';
  }

  /** Send everything held now (SIGTERM), and wait for every send, including those the windows started. */
  async flush(): Promise<void> {
    for (const [source, p] of [...this.waiting]) {
      clearTimeout(p.timer);
      this.release(source);
    }
    await Promise.all([...this.sending]);
  }

  /** Repositories waiting for their window to end. */
  pending(): number {
    return this.waiting.size;
  }

  private release(source: string): void {
    const p = this.waiting.get(source);
    if (!p) return;
    this.waiting.delete(source);
    // A send that throws at once is a failed send like any other, never an uncaught timer error.
    const sent = Promise.resolve()
      .then(() => this.opts.send(p.message))
      .catch((err: unknown) => (this.opts.onError ?? lostRecheck)(err, p.message))
      .finally(() => this.sending.delete(sent));
    this.sending.add(sent);
  }
}

function lostRecheck(err: unknown, m: RecheckMessage): void {
  process.stderr.write(`recheck of ${m.source} not sent (the next scheduled run checks it): ${errorMessage(err)}\n`);
}

// How many times a failing image is tried (issue 13, item 4). A delivery that committed something
// new at the destination (a blob uploaded or mounted, a child manifest pushed) moved the image
// forward: it does not spend one of the image's attempts. A delivery that committed nothing does.
// So a flaky registry that lets a 30-layer image through a few layers at a time still finishes it,
// while one that refuses everything (always 503) costs `retries + 1` deliveries, each bounded by the
// HTTP and blob budgets (3 requests per blob per delivery, registry/http/retry.ts).
//
// Deliveries are capped whatever the progress: MAX_DELIVERIES (or retries + 1 if that is more) in
// `sync` and `work`; on SQS the queue's RedrivePolicy maxReceiveCount is the cap, as SQS moves a
// message after that many receives whatever we think (the copier dead-letters it itself on its
// last delivery, with its reason). Which deliveries made progress is remembered by message id in
// the process that saw them; SQS's receive count is the only count that survives a process, so a
// Lambda container that did not see the earlier deliveries counts them all as spent attempts.
import type { CopyCounters } from '../copy/context.js';

/** Deliveries of one image at most, progress or not, where the queue does not set a lower cap. */
export const MAX_DELIVERIES = 10;

/** Entries remembered at most (a warm container settles many messages; old ones are forgotten). */
const MAX_ENTRIES = 10_000;

/** Whether a delivery committed anything at the destination. */
export function madeProgress(c: CopyCounters): boolean {
  return c.blobsUploaded + c.blobsMounted + c.manifestsPut > 0;
}

/** The queue's redrive cap for `retries`: room for deliveries that make progress. */
export function deliveryCap(retries: number): number {
  return Math.max(retries + 1, MAX_DELIVERIES);
}

export class AttemptLedger {
  /** Message id -> deliveries that made progress. Map order is insertion order: the oldest go first. */
  private readonly progressed = new Map<string, number>();

  /** Deliveries so far that spent an attempt: `receiveCount` less those that made progress (this one included). */
  spent(id: string, receiveCount: number, progressNow: boolean): number {
    let n = this.progressed.get(id) ?? 0;
    if (progressNow) {
      n++;
      this.progressed.delete(id);
      this.progressed.set(id, n);
      if (this.progressed.size > MAX_ENTRIES) this.progressed.delete(this.progressed.keys().next().value!);
    }
    return Math.max(0, receiveCount - n);
  }

  /** The message settled (copied, dead-lettered): nothing more to remember. */
  forget(id: string): void {
    this.progressed.delete(id);
  }

  get size(): number {
    return this.progressed.size;
  }
}

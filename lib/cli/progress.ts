// Progress while `sync` runs: on a TTY one line redrawn in place (images done/total, bytes, rate,
// ETA); otherwise a plain line every few seconds, so CI logs show life without flooding.
// The line and the ETA are pure functions of the counters, so they can be tested without a terminal.
import type { ImageOutcome } from '../pipeline/copier.js';
import { formatBytes, formatDuration } from './format.js';
import { isRuleKind } from '../queue/messages.js';

export interface ProgressState {
  total: number;
  copied: number;
  skipped: number;
  /** Not copied: the platform filter wants none of the image. */
  filtered?: number;
  /** Not copied: `overwrite: false` and the destination tag holds another image. */
  kept?: number;
  failed: number;
  /** Bytes streamed so far (the summary's "moved" counts the same bytes). */
  bytes: number;
  /** Bytes of the images already finished. */
  doneBytes: number;
  elapsedMs: number;
}

/**
 * Time left, from images and from bytes; the larger wins. Images alone say "almost done" when the
 * images left are the big ones; bytes alone say "done" when the images left are already present
 * (they move no bytes). Bytes left are estimated from the finished images' average size.
 */
export function etaMs(s: ProgressState): number | undefined {
  const done = s.copied + s.skipped + (s.filtered ?? 0) + (s.kept ?? 0) + s.failed;
  const left = s.total - done;
  if (done === 0 || left <= 0 || s.elapsedMs <= 0) return undefined;
  const byImages = (s.elapsedMs / done) * left;
  if (s.bytes <= 0 || s.doneBytes <= 0) return byImages;
  const bytesLeft = Math.max(0, (s.doneBytes / done) * s.total - s.bytes);
  const byBytes = bytesLeft / (s.bytes / s.elapsedMs);
  return Math.max(byImages, byBytes);
}

/** The full line (log files, wide terminals). */
export function progressLine(s: ProgressState): string {
  return variants(s)[0]!;
}

/**
 * The line for a terminal `columns` wide: the widest form that fits in columns - 1, since writing
 * the last column makes some terminals wrap, and `\r` + erase-line then redraws only the last row
 * (the garbage the issue saw at 80 columns).
 */
export function fitLine(s: ProgressState, columns: number): string {
  const max = Math.max(1, columns - 1);
  const forms = variants(s);
  const fit = forms.find((f) => f.length <= max);
  return fit ?? forms.at(-1)!.slice(0, max);
}

function variants(s: ProgressState): string[] {
  const done = s.copied + s.skipped + (s.filtered ?? 0) + (s.kept ?? 0) + s.failed;
  const secs = s.elapsedMs / 1000;
  const rate = formatBytes(secs > 0 ? s.bytes / secs : 0);
  const left = etaMs(s);
  const eta = left === undefined ? '-' : formatDuration(left);
  return [
    `images ${done}/${s.total} (copied ${s.copied}, present ${s.skipped}${s.filtered ? `, filtered ${s.filtered}` : ''}${s.kept ? `, kept ${s.kept}` : ''}, failed ${s.failed}) | ` +
      `${formatBytes(s.bytes)} at ${rate}/s | ETA ${eta}`,
    `${done}/${s.total} images${s.failed ? `, ${s.failed} failed` : ''} | ${formatBytes(s.bytes)} at ${rate}/s | ETA ${eta}`,
    `${done}/${s.total}${s.failed ? ` (${s.failed} failed)` : ''} | ETA ${eta}`,
  ];
}

export class Progress {
  private readonly state: ProgressState = { total: 0, copied: 0, skipped: 0, failed: 0, bytes: 0, doneBytes: 0, elapsedMs: 0 };
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = Boolean(out.isTTY),
    intervalMs = tty ? 250 : 5000,
  ) {
    this.timer = setInterval(() => this.render(), intervalMs);
    this.timer.unref();
  }

  planned(n: number): void {
    this.state.total += n;
  }

  moved(n: number): void {
    this.state.bytes += n;
  }

  outcome(o: ImageOutcome): void {
    if (o.kind === 'prune') return; // a deleted destination tag, not an image of the plan
    if (isRuleKind(o.kind)) {
      if (o.status === 'expanded') this.state.total--; // the expand message itself is not an image
      return;
    }
    if (o.status === 'copied') this.state.copied++;
    else if (o.status === 'skipped') this.state.skipped++;
    else if (o.status === 'filtered') this.state.filtered = (this.state.filtered ?? 0) + 1;
    else if (o.status === 'kept') this.state.kept = (this.state.kept ?? 0) + 1;
    else if (o.status === 'failed') this.state.failed++;
    if (o.status !== 'retrying') this.state.doneBytes += o.bytes;
  }

  snapshot(): ProgressState {
    return { ...this.state, elapsedMs: performance.now() - this.started };
  }

  line(): string {
    return progressLine(this.snapshot());
  }

  private render(): void {
    if (this.tty) {
      this.out.write(`\r\x1b[2K${fitLine(this.snapshot(), this.out.columns || 80)}`);
      this.drawn = true;
    } else {
      this.out.write(`progress: ${this.line()}\n`);
    }
  }

  /** Erase the drawn line so a message can be printed on its own line (the next tick redraws). */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}

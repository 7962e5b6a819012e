// Progress while `sync` runs: on a TTY one line redrawn in place (images done/total, bytes, rate,
// ETA); otherwise a plain line every few seconds, so CI logs show life without flooding.
import type { ImageOutcome } from '../pipeline/copier.js';
import { formatBytes, formatDuration } from './format.js';

export class Progress {
  private total = 0;
  private copied = 0;
  private skipped = 0;
  private failed = 0;
  private bytes = 0;
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
    this.total += n;
  }

  moved(n: number): void {
    this.bytes += n;
  }

  outcome(o: ImageOutcome): void {
    if (o.kind === 'expand-repository' && o.status === 'expanded') {
      this.total--; // the expand message itself is not an image
      return;
    }
    if (o.status === 'copied') this.copied++;
    else if (o.status === 'skipped') this.skipped++;
    else if (o.status === 'failed') this.failed++;
  }

  line(): string {
    const done = this.copied + this.skipped + this.failed;
    const secs = (performance.now() - this.started) / 1000;
    const rate = secs > 0 ? this.bytes / secs : 0;
    const left = this.total - done;
    const eta = done > 0 && left > 0 ? formatDuration((secs / done) * left * 1000) : '-';
    return (
      `images ${done}/${this.total} (copied ${this.copied}, present ${this.skipped}, failed ${this.failed}) | ` +
      `${formatBytes(this.bytes)} at ${formatBytes(rate)}/s | ETA ${eta}`
    );
  }

  private render(): void {
    if (this.tty) {
      this.out.write(`\r\x1b[2K${this.line()}`);
      this.drawn = true;
    } else {
      this.out.write(`progress: ${this.line()}\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.out.write('\r\x1b[2K');
  }
}

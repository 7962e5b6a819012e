// Warnings for the user look the same in every command (issue 13: "the 'rule matches nothing'
// warning is text in `plan` and a JSON log line in `sync`"): one plain `warning: ...` line on
// stderr, whatever the command (plan, sync, verify, replay, sync --queue-url, work). The JSON logs
// (--log-level, --log FILE) get it too, at info, for whoever reads them afterwards.
import type { Logger } from 'pino';
import { printable } from '../text.js';
import type { Progress } from './progress.js';

export type Warn = (message: string) => void;

/** The one way a command tells the user something is off but goes on. */
export function userWarnings(stderr: NodeJS.WritableStream, opts: { logger?: Logger; progress?: Progress } = {}): Warn {
  return (message) => {
    // A progress line being redrawn on a terminal is cleared first, or the warning lands inside it.
    opts.progress?.clear();
    // Warnings quote names the registry sent (tags, repositories): one line, whatever they hold.
    stderr.write(`warning: ${printable(message, 2048)}\n`);
    opts.logger?.info({ warning: message }, 'warning');
  };
}

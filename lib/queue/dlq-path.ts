// Where `sync` keeps its dead letters by default. A module of its own: `--help` prints it, and must
// not load the message schemas (zod) that the DLQ file itself needs.

/** Relative to the current directory, like the rest of a run's local state. */
export const DEFAULT_DLQ_PATH = '.swr-migrate/dlq.jsonl';

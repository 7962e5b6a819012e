// `images-from-cluster` (issue 9 item 6): built in lib/k8s; this is the command's entry point.
import { UsageError } from '../errors.js';
import type { CommandEnv } from './pipeline-commands.js';

export async function imagesFromClusterCommand(_flags: Record<string, string | boolean | undefined>, _env: CommandEnv): Promise<number> {
  throw new UsageError('images-from-cluster is not built yet');
}

// What a failure while reading a response body means: a body that broke off (reset, idle timeout)
// or JSON cut short is a network error, worth a retry; our own errors (a cap, a digest) pass as they are.
import { MigrateError, NetworkError } from '../../errors.js';
import { remoteText } from '../../text.js';
import { networkReason } from './transport.js';

export function bodyError(err: unknown, host: string): unknown {
  if (err instanceof MigrateError) return err;
  // V8's JSON errors quote the body ("Unexpected token ... in ..."): remote text, so stripped.
  if (err instanceof SyntaxError) return new NetworkError(host, `truncated or invalid JSON response (${remoteText(err.message, 80)})`);
  return new NetworkError(host, networkReason(err), { cause: err });
}

// `insecure: true` as in containers/image (docker_client.go, detectProperties) and image-syncer:
// HTTPS without certificate verification first, plain HTTP when the port does not speak TLS. The
// choice is made once per host and remembered by everything sharing the dispatcher (every client of
// a pool with that TLS profile), so a plain-HTTP registry pays one failed handshake per run, not one
// per request, and concurrent first requests wait for the one that is finding out.
import type { Dispatcher } from 'undici';
import { isPlainHttpAnswer } from './tls-errors.js';

export type Scheme = 'https:' | 'http:';

const DECIDED_HTTP = Symbol('decided http');

export class SchemeChoice {
  private readonly decided = new Map<string, Scheme>();
  private readonly probing = new Map<string, Promise<unknown>>();

  /** The scheme learnt for host[:port], if any request has found out yet. */
  known(host: string): Scheme | undefined {
    return this.decided.get(host);
  }

  /**
   * Runs `send` with the host's scheme. While it is unknown, one caller sends over HTTPS: any answer
   * means HTTPS; a plain-HTTP answer to the handshake means HTTP, and that caller sends again over
   * HTTP. Other errors (connection refused) decide nothing: the next request tries again.
   * `send` must be safe to call twice (the transport probes with a cheap GET for streamed bodies).
   * `onPlainHttp` is called once, by the caller that found out.
   */
  async run<T>(host: string, send: (scheme: Scheme) => Promise<T>, onPlainHttp?: () => void): Promise<T> {
    for (;;) {
      const scheme = this.decided.get(host);
      if (scheme) return send(scheme);
      const pending = this.probing.get(host);
      if (pending) {
        await pending.catch(() => undefined);
        continue;
      }
      const probe = send('https:').then(
        (res) => {
          this.decided.set(host, 'https:');
          return res;
        },
        (err: unknown) => {
          if (!isPlainHttpAnswer(err)) throw err;
          this.decided.set(host, 'http:');
          onPlainHttp?.();
          return DECIDED_HTTP;
        },
      );
      this.probing.set(host, probe);
      try {
        const res = await probe;
        if (res !== DECIDED_HTTP) return res as T;
      } finally {
        this.probing.delete(host);
      }
    }
  }
}

// Keyed by dispatcher rather than held in a process-wide map: a new pool (a new run, another test)
// must find out again, since a port may be reused by a server of the other kind.
const choices = new WeakMap<Dispatcher, SchemeChoice>();

export function schemeChoiceFor(dispatcher: Dispatcher): SchemeChoice {
  let choice = choices.get(dispatcher);
  if (!choice) {
    choice = new SchemeChoice();
    choices.set(dispatcher, choice);
  }
  return choice;
}

// Process-wide bookkeeping of everything the helpers start (registries, token servers, proxies),
// so that `stopAll()` in an `after` hook, or the exit/signal handlers below as a last resort,
// never leave a registry process or a temp dir behind.

export interface Stoppable {
  /** Graceful async stop (used by stopAll). */
  stop?: () => Promise<void>;
  /** Synchronous best-effort cleanup, the only kind allowed in an 'exit' handler. */
  stopSync?: () => void;
}

const live = new Set<Stoppable>();
let handlersInstalled = false;

function syncCleanup(): void {
  for (const s of [...live].reverse()) {
    try {
      s.stopSync?.();
    } catch {
      // best effort: the process is going away anyway
    }
  }
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', syncCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      syncCleanup();
      // Re-raise with our listener gone so the default action (or other listeners) still apply.
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Registers a resource; returns a function that unregisters it (call it once stopped). */
export function track(s: Stoppable): () => void {
  installHandlers();
  live.add(s);
  return () => {
    live.delete(s);
  };
}

/** Stops every tracked resource, newest first (proxies before the registries they front). */
export async function stopAllTracked(): Promise<void> {
  const items = [...live].reverse();
  for (const s of items) {
    if (s.stop) await s.stop().catch(() => undefined);
    else s.stopSync?.();
    live.delete(s);
  }
}

/**
 * Listen on a free 127.0.0.1 port and track the server, so stopAll closes it (connections too).
 * The stand-ins' common start-up: returns the port and an idempotent stop.
 */
export async function listenTracked(server: import('node:http').Server): Promise<{ port: number; stop: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const stop = async (): Promise<void> => {
    untrack();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };
  const untrack = track({ stop, stopSync: () => server.close() });
  return { port, stop };
}

// client-node failures as one line that names the API server and says what to do. It throws an
// ApiException for an HTTP answer (body: the API's Status object, as JSON text) and node-fetch's
// FetchError (with the socket's errno `code`) when there was no answer at all.
import { ApiException } from '@kubernetes/client-node';
import { KubernetesError, errorMessage } from '../errors.js';
import { oneLine } from './kubeconfig.js';

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function statusMessage(body: unknown): string | undefined {
  try {
    const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    const msg = (parsed as { message?: unknown } | null)?.message;
    return typeof msg === 'string' && msg ? oneLine(msg).slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

function isTlsCode(code: string): boolean {
  return /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_OSSL)/.test(code);
}

export function describeApiFailure(err: unknown, server: string, what: string): KubernetesError {
  if (err instanceof KubernetesError) return err;
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const detail = statusMessage((err as ApiException<unknown>).body);
    const said = detail ? `: ${detail}` : '';
    if (code === 401) return new KubernetesError(`Kubernetes API server ${server} did not accept the credentials listing ${what} (401)${said}; refresh the kubeconfig user's token or certificate`, { cause: err });
    if (code === 403) return new KubernetesError(`Kubernetes API server ${server} forbids listing ${what} (403)${said}; the kubeconfig user needs list permission on ${what.split(' ')[0]}${what.includes(' in namespace ') ? '' : ' in all namespaces, or pass -n with the namespaces it may read'}`, { cause: err });
    return new KubernetesError(`Kubernetes API server ${server} answered HTTP ${code} listing ${what}${said}`, { cause: err });
  }
  // client-node refuses plain http:// servers unless the cluster entry says insecure-skip-tls-verify.
  if (/HTTP protocol is not allowed/.test(errorMessage(err))) {
    return new KubernetesError(`Kubernetes API server ${server} is plain http://, which needs insecure-skip-tls-verify: true on its cluster in the kubeconfig (or use its https:// address)`, { cause: err });
  }
  const errno = (err as { code?: unknown } | null)?.code;
  const code = typeof errno === 'string' ? errno : '';
  if (NETWORK[code]) {
    return new KubernetesError(`cannot reach Kubernetes API server ${server}: ${NETWORK[code]}; check the cluster address in the kubeconfig and that it is reachable from here`, { cause: err });
  }
  if (isTlsCode(code) || /certificate|SSL|TLS/i.test(errorMessage(err))) {
    return new KubernetesError(`cannot reach Kubernetes API server ${server}: TLS failed (${code || oneLine(tail(errorMessage(err)))}); check the cluster's certificate-authority in the kubeconfig`, { cause: err });
  }
  // client-node runs exec credential plugins itself: spawn errors come through with their path.
  const e = err as { syscall?: unknown; path?: unknown } | null;
  if (code === 'ENOENT' && typeof e?.syscall === 'string' && e.syscall.startsWith('spawn')) {
    return new KubernetesError(`the kubeconfig user's exec credential plugin ${String(e.path)} was not found; install it or fix users[].user.exec.command`, { cause: err });
  }
  // A plugin that failed rejects with its stderr as the message, which may be empty.
  if (!errorMessage(err).trim()) {
    return new KubernetesError(`getting credentials for Kubernetes API server ${server} failed without a message (an exec credential plugin exited non-zero?); run it by hand to see why`, { cause: err });
  }
  // Exec plugins' stderr, auth providers and anything else: client-node's own text.
  return new KubernetesError(`cannot list ${what} on Kubernetes API server ${server}: ${oneLine(tail(errorMessage(err))).slice(0, 300)}`, { cause: err });
}

/** node-fetch prefixes "request to <url> failed, reason: "; the URL is already in our message. */
function tail(message: string): string {
  const i = message.indexOf('reason: ');
  return i >= 0 ? message.slice(i + 'reason: '.length) : message;
}

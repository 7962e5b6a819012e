// Certificate and handshake failures, told apart from passing network errors. Node reports them with
// OpenSSL's X509 verify codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...) or ERR_SSL_* codes, e.g.
// "wrong version number" when the port speaks plain HTTP. None of them heals with a retry, so each
// becomes a one-line TlsError naming the host and the registry option that fixes it.
import { TlsError } from '../../errors.js';

const SKIP = 'or set insecure: true to skip verification';

/** The server's certificate chain does not lead to a CA we trust. */
const UNTRUSTED: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown issuer',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown issuer',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown issuer',
  CERT_UNTRUSTED: 'untrusted certificate',
  CERT_SIGNATURE_FAILURE: 'bad signature',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'bad signature',
  INVALID_CA: 'invalid CA certificate',
  CERT_REJECTED: 'certificate rejected',
  INVALID_PURPOSE: 'certificate not for TLS servers',
  CERT_CHAIN_TOO_LONG: 'chain too long',
  PATH_LENGTH_EXCEEDED: 'chain too long',
};

const OUT_OF_DATE: Record<string, string> = {
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  CERT_REVOKED: 'was revoked',
};

const WRONG_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

/** What OpenSSL says when the bytes after our ClientHello are an HTTP answer, not a TLS record. */
const PLAIN_HTTP = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** Alerts a server sends about our client certificate (missing, unknown CA, expired ...): mutual TLS. */
const CLIENT_CERT_ALERT =
  /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|ACCESS_DENIED)$/;

interface CodedError {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The error and its causes (undici wraps TLS errors of proxied connections, see tls.ts for alerts). */
function chain(err: unknown): CodedError[] {
  const out: CodedError[] = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as CodedError).cause, depth++) out.push(e as CodedError);
  return out;
}

function codeOf(e: CodedError): string {
  return typeof e.code === 'string' ? e.code : '';
}

/** HTTPS spoken to a port that answered in plain HTTP (what `insecure: true` falls back from). */
export function isPlainHttpAnswer(err: unknown): boolean {
  return chain(err).some((e) => PLAIN_HTTP.has(codeOf(e)));
}

/** A TlsError for a certificate or handshake failure, or undefined for any other (passing) error. */
export function tlsFailure(host: string, err: unknown): TlsError | undefined {
  for (const e of chain(err)) {
    const code = codeOf(e);
    if (code in UNTRUSTED) {
      return new TlsError(host, `TLS certificate of ${host} is not trusted (${UNTRUSTED[code]}): give its CA as caFile, ${SKIP}`, false, { cause: err });
    }
    if (code in OUT_OF_DATE) {
      return new TlsError(host, `TLS certificate of ${host} ${OUT_OF_DATE[code]}: renew it on the registry, ${SKIP}`, false, { cause: err });
    }
    if (WRONG_NAME.has(code)) {
      return new TlsError(host, `TLS certificate of ${host} is for other names: use a name it lists, ${SKIP}`, false, { cause: err });
    }
    if (PLAIN_HTTP.has(code)) {
      return new TlsError(host, `${host} answered HTTPS in plain HTTP: mark the registry insecure: true to use HTTP`, true, { cause: err });
    }
    const alert = CLIENT_CERT_ALERT.exec(code);
    if (alert) {
      const what = alert[1]!.toLowerCase().replaceAll('_', ' ');
      return new TlsError(host, `${host} refused the TLS client certificate (${what}): set certFile and keyFile to one it accepts`, false, { cause: err });
    }
  }
  return undefined;
}

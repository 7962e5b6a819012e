#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests need, when they are missing:
# docker-registry (CNCF distribution), and for the tests htpasswd (apache2-utils) and openssl.
# Usage: ensure-tools.sh [demo|test]
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
if [ "${1:-test}" = test ]; then
  command -v htpasswd >/dev/null || need+=(apache2-utils)
  command -v openssl >/dev/null || need+=(openssl)
  command -v unzip >/dev/null || need+=(unzip)        # test/e2e/package.test.ts unzips the copier artifact
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "swr-migrate: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "swr-migrate: installing ${need[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

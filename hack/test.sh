#!/usr/bin/env bash
# Runs Ferry's whole test suite: the README's test command.
#
# It first makes sure what the tests need is here, idempotently and cached:
# the local Kubernetes binaries (built once from the Go module proxy into the
# user cache, see docs/local-cluster.md). Tests that need PostgreSQL run when
# FERRY_TEST_POSTGRES_URL is set (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f hack/kube/build.sh ] && [ -z "${FERRY_KUBE_BIN:-}" ]; then
  echo "== local cluster binaries (cached after the first build)"
  FERRY_KUBE_BIN=$(bash hack/kube/build.sh | tail -n 1)
  export FERRY_KUBE_BIN
fi

if [ -f hack/minio/build.sh ] && [ -z "${FERRY_MINIO_BIN:-}" ]; then
  echo "== MinIO server for the s3:// filestore tests (cached after the first build)"
  FERRY_MINIO_BIN=$(bash hack/minio/build.sh | tail -n 1)
  export FERRY_MINIO_BIN
fi

if [ -f hack/prometheus/install.sh ] && [ -z "${FERRY_PROMETHEUS_BIN:-}" ]; then
  echo "== Prometheus for the ANALYSIS stage tests (the Debian package, installed once)"
  FERRY_PROMETHEUS_BIN=$(bash hack/prometheus/install.sh | tail -n 1)
  export FERRY_PROMETHEUS_BIN
fi

if [ -f hack/chromium/install.sh ] && [ -z "${FERRY_CHROMIUM_BIN:-}" ]; then
  echo "== headless Chromium for the console's browser tests (the Debian package, installed once)"
  FERRY_CHROMIUM_BIN=$(bash hack/chromium/install.sh | tail -n 1)
  export FERRY_CHROMIUM_BIN
fi

if [ -f hack/firefox/install.sh ] && [ -z "${FERRY_FIREFOX_BIN:-}" ]; then
  echo "== headless Firefox for the console's browser tests (the Debian package, installed once)"
  FERRY_FIREFOX_BIN=$(bash hack/firefox/install.sh | tail -n 1)
  export FERRY_FIREFOX_BIN
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 30m "$@" ./...

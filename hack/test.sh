#!/usr/bin/env bash
# Runs Ferry's whole test suite: the README's test command.
#
# It first makes sure what the tests need is here, idempotently and cached:
# the local Kubernetes binaries (built once from the Go module proxy into the
# user cache, see docs/local-cluster.md). Tests that need PostgreSQL or Redis
# run when FERRY_TEST_POSTGRES_URL or FERRY_TEST_REDIS_URL is set (.ci/run sets
# them). A test whose part is missing skips, saying why, unless its
# FERRY_TEST_REQUIRE_* switch is 1 (.ci/run sets them all); the run ends with
# a summary of every skipped test and why (hack/testsummary).
set -euo pipefail
cd "$(dirname "$0")/.."

# provide VAR SCRIPT WHAT: unless VAR is set already, runs SCRIPT (when this
# checkout has it) and exports VAR as the last line it prints.
provide() {
  local var=$1 script=$2 what=$3 value
  if [ -f "$script" ] && [ -z "${!var:-}" ]; then
    echo "== $what"
    value=$(bash "$script" | tail -n 1)
    export "$var=$value"
  fi
}

provide FERRY_KUBE_BIN hack/kube/build.sh "local cluster binaries (cached after the first build)"
provide FERRY_MINIO_BIN hack/minio/build.sh "MinIO server for the s3:// filestore tests (cached after the first build)"
provide FERRY_PROMETHEUS_BIN hack/prometheus/install.sh "Prometheus for the ANALYSIS stage tests (the Debian package, installed once)"
provide FERRY_CHROMIUM_BIN hack/chromium/install.sh "headless Chromium for the console's browser tests (the Debian package, installed once)"
provide FERRY_FIREFOX_BIN hack/firefox/install.sh "headless Firefox for the console's browser tests (the Debian package, installed once)"

echo "== go vet"
go vet ./...

echo "== go test"
# -json through hack/testsummary: the usual output, then the skips.
go test -json -count=1 -timeout 30m "$@" ./... | go run ./hack/testsummary

#!/usr/bin/env bash
# Installs the Prometheus server the ANALYSIS stage's tests query (the
# Debian package `prometheus`), and prints the path of its binary as the
# last line of stdout. Progress goes to stderr.
#
#   FERRY_PROMETHEUS_BIN=$(bash hack/prometheus/install.sh | tail -n 1)
#
# Idempotent: when the binary is already there (FERRY_PROMETHEUS_BIN, or
# /usr/bin/prometheus) it prints its path and returns at once. Otherwise it
# runs `apt-get install -y --no-install-recommends prometheus`, through sudo
# unless it runs as root. The package's service is not started: the tests
# start their own server on a free loopback port (internal/testenv).
set -euo pipefail

# On a machine running systemd the package also starts its own service on
# :9090; the tests neither need nor touch it.
exec bash "$(dirname "$0")/../lib/debian-package.sh" FERRY_PROMETHEUS_BIN /usr/bin/prometheus prometheus

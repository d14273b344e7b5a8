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

bin="${FERRY_PROMETHEUS_BIN:-/usr/bin/prometheus}"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if [ -n "${FERRY_PROMETHEUS_BIN:-}" ]; then
  echo "FERRY_PROMETHEUS_BIN=$bin is not an executable file" >&2
  exit 1
fi

command -v apt-get >/dev/null || { echo "no apt-get here: install Prometheus and set FERRY_PROMETHEUS_BIN to its binary" >&2; exit 1; }
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "installing prometheus needs root or sudo" >&2; exit 1; }
  sudo=(sudo)
fi

echo "installing the Debian package prometheus" >&2
# On a machine running systemd the package also starts its own service on
# :9090; the tests neither need nor touch it.
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends prometheus >&2; then
  echo "apt-get install failed; refreshing the package lists and trying again" >&2
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends prometheus >&2
fi
[ -x /usr/bin/prometheus ] || { echo "the prometheus package installed no /usr/bin/prometheus" >&2; exit 1; }
echo /usr/bin/prometheus

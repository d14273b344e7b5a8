#!/usr/bin/env bash
# Installs a program the tests need from Debian's packages, idempotently,
# and prints the path of its binary as the last line of stdout; progress
# goes to stderr.
#
#   bash hack/lib/debian-package.sh VAR BINARY PACKAGE...
#
# VAR names the variable that may already point at the binary
# (FERRY_PROMETHEUS_BIN); BINARY is where the packages install it. When
# the binary is there the script prints its path and returns at once.
# Otherwise it runs `apt-get install -y --no-install-recommends PACKAGE...`
# through sudo unless it runs as root, refreshing the package lists first
# when apt knows no candidate for the first package (a fresh container),
# and once more if the install fails.
set -euo pipefail

var=$1 default=$2
shift 2
pkgs=("$@")
name=${pkgs[0]}

bin="${!var:-$default}"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if [ -n "${!var:-}" ]; then
  echo "$var=$bin is not an executable file" >&2
  exit 1
fi

command -v apt-get >/dev/null || { echo "no apt-get here: install $name and set $var to its binary" >&2; exit 1; }
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "installing $name needs root or sudo" >&2; exit 1; }
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy "$name" 2>/dev/null | grep -q 'Candidate: [^(]'; then
  echo "apt knows no $name package yet; refreshing the package lists" >&2
  "${sudo[@]}" apt-get update >&2
fi
echo "installing the Debian packages ${pkgs[*]}" >&2
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; then
  echo "apt-get install failed; refreshing the package lists and trying again" >&2
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
fi
[ -x "$default" ] || { echo "the $name package installed no $default" >&2; exit 1; }
echo "$default"

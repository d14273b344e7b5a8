#!/usr/bin/env bash
# Installs the headless Chromium the console's browser tests drive (the
# Debian packages `chromium` and `chromium-driver`), and prints the path of
# its binary as the last line of stdout. Progress goes to stderr.
#
#   FERRY_CHROMIUM_BIN=$(bash hack/chromium/install.sh | tail -n 1)
#
# Idempotent: when the binary is already there (FERRY_CHROMIUM_BIN, or
# /usr/bin/chromium) it prints its path and returns at once. Otherwise it
# runs `apt-get install -y --no-install-recommends chromium chromium-driver`,
# through sudo unless it runs as root, refreshing the package lists first
# when apt does not know the package yet.
set -euo pipefail

bin="${FERRY_CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if [ -n "${FERRY_CHROMIUM_BIN:-}" ]; then
  echo "FERRY_CHROMIUM_BIN=$bin is not an executable file" >&2
  exit 1
fi

command -v apt-get >/dev/null || { echo "no apt-get here: install Chromium and set FERRY_CHROMIUM_BIN to its binary" >&2; exit 1; }
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "installing chromium needs root or sudo" >&2; exit 1; }
  sudo=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
# A machine whose package lists were never fetched (a fresh container)
# knows no candidate for chromium: fetch them first.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [^(]'; then
  echo "apt knows no chromium package yet; refreshing the package lists" >&2
  "${sudo[@]}" apt-get update >&2
fi
echo "installing the Debian packages chromium and chromium-driver" >&2
if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium chromium-driver >&2; then
  echo "apt-get install failed; refreshing the package lists and trying again" >&2
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends chromium chromium-driver >&2
fi
[ -x /usr/bin/chromium ] || { echo "the chromium package installed no /usr/bin/chromium" >&2; exit 1; }
echo /usr/bin/chromium

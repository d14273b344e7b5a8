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

exec bash "$(dirname "$0")/../lib/debian-package.sh" FERRY_CHROMIUM_BIN /usr/bin/chromium chromium chromium-driver

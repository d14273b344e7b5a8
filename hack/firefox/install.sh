#!/usr/bin/env bash
# Installs the headless Firefox the console's browser tests drive (the
# Debian package `firefox-esr`), and prints the path of its binary as the
# last line of stdout. Progress goes to stderr.
#
#   FERRY_FIREFOX_BIN=$(bash hack/firefox/install.sh | tail -n 1)
#
# Idempotent: when the binary is already there (FERRY_FIREFOX_BIN, or
# /usr/bin/firefox-esr) it prints its path and returns at once. Otherwise it
# runs `apt-get install -y --no-install-recommends firefox-esr`, through sudo
# unless it runs as root, refreshing the package lists first when apt does
# not know the package yet.
#
# No geckodriver is needed: the tests speak WebDriver BiDi to Firefox itself
# (internal/testenv/firefox.go).
set -euo pipefail

exec bash "$(dirname "$0")/../lib/debian-package.sh" FERRY_FIREFOX_BIN /usr/bin/firefox-esr firefox-esr

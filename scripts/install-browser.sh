#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for tests/test_report_browser.py.
#
# Does nothing when /usr/bin/chromium already exists. Without apt-get (not Debian/Ubuntu)
# it prints what to do and exits 0, so CI setups can call it unconditionally; the browser
# test then skips with a clear reason.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install Chromium with your package manager to run the browser test"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"

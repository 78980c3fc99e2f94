#!/bin/sh
# Install what tests/test_dashboard.py needs beyond Python packages: headless Chromium.
# Idempotent and quiet: does nothing when `chromium` is already on PATH. Debian/Ubuntu (apt-get);
# needs root (or sudo). npm (for `npm pack` in scripts/publish_dashboard.py) is assumed present.
set -eu

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "install_test_deps: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || {
    echo "install_test_deps: chromium still not on PATH after apt-get install" >&2
    exit 1
}

#!/bin/sh
# What the tests need beyond Python packages: headless Chromium (tests/test_dashboard.py) and
# valgrind (tests/test_instructions.py counts one tiny point for real). Debian/Ubuntu; nothing
# happens when both are on PATH. npm (for `npm pack` in scripts/publish_dashboard.py) is assumed.
set -eu
exec sh "$(dirname "$0")/apt_install.sh" chromium valgrind

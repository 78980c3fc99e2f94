#!/bin/sh
# Installs the Debian packages named as arguments whose command is not on PATH yet (each package
# here provides a command of its own name: chromium, valgrind). Idempotent and quiet; needs root
# (or sudo) and apt-get only when something is missing.
set -eu

missing=""
for package in "$@"; do
    command -v "$package" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "apt_install: installing$missing with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing >/dev/null
for package in $missing; do
    command -v "$package" >/dev/null 2>&1 || {
        echo "apt_install: $package still not on PATH after apt-get install" >&2
        exit 1
    }
done

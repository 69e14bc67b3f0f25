#!/usr/bin/env bash
# Installs the OS packages the local sandbox needs (Debian/Ubuntu): Chromium, bubblewrap and
# libseccomp (the sandbox's syscall filter is compiled with it); and tmux, the real terminal the
# CLI's progress test drives (tests/e2e/test_sdk_cli_e2e.py).
# Idempotent; silent when everything is already there.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || missing+=(libseccomp2)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing OS packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed for the browser tests (tests/browser/).
# Playwright drives it through `executable_path`; no browser is ever downloaded (`playwright install`
# is not used). Installs the `chromium` package when running as root with apt-get, and otherwise says
# exactly what is missing. Idempotent; safe to run every time.
#
# Usage: scripts/ensure-chromium.sh        (RCSYNC_CHROMIUM overrides the path, default /usr/bin/chromium)
set -u

CHROMIUM=${RCSYNC_CHROMIUM:-/usr/bin/chromium}

say() { echo "[chromium] $*" >&2; }

[ -x "$CHROMIUM" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  say "installing Debian's chromium package (for the browser tests)"
  if [ ! -f /tmp/.rcsync-apt-updated ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch /tmp/.rcsync-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
say "MISSING: $CHROMIUM (Debian: apt-get install chromium) — needed by the browser tests (pytest -m browser)"
exit 1

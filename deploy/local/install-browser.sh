#!/usr/bin/env bash
# Install the headless browser the screen's browser tests drive: Debian's chromium and
# chromium-driver, plus a font with Vietnamese glyphs for the screenshot. Idempotent and
# quiet: does nothing when everything is already there.
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-dejavu-core)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-browser: need root (or sudo) to apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  echo "install-browser: apt-get install ${missing[*]} failed" >&2
  exit 1
}
for bin in chromium chromedriver; do
  command -v "$bin" >/dev/null 2>&1 || { echo "install-browser: $bin missing" >&2; exit 1; }
done

#!/usr/bin/env bash
# Debian packages the test suite needs besides Python: eSpeak NG makes a second, different test
# voice (tests/speech_corpus.py); Chromium runs the browser tests (tests/browser/, driven by
# Playwright with this system Chromium: no browser is downloaded). Installs them when missing
# (needs root, as on CI machines).
set -euo pipefail
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }

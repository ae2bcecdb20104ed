#!/usr/bin/env bash
# Debian packages the test suite needs besides Python: eSpeak NG makes a second, different test
# voice (tests/speech_corpus.py). Installs them when missing (needs root, as on CI machines).
set -euo pipefail
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }

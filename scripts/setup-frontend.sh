#!/usr/bin/env bash
# Install the browser client's npm packages and build frontend/dist. Idempotent and quiet:
# `npm ci` runs only when package-lock.json changed since the last install (stamp in
# node_modules/), the build only when a source is newer than the last build or an output is
# missing (stamp node_modules/.dist-built). Needs Node.js 20+ with npm.
#   scripts/setup-frontend.sh           what scripts/setup.sh runs
#   scripts/setup-frontend.sh --build   build even if nothing changed, printing output sizes
set -euo pipefail
cd "$(dirname "$0")/../frontend"
force=0
[ "${1:-}" = "--build" ] && force=1

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "setup: '$tool' not found; the browser client needs Node.js 20 or newer with npm" \
      "(Debian 13: apt-get install nodejs npm;" \
      "Debian 12: https://github.com/nodesource/distributions)" >&2
    exit 1
  fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js $(node --version) is too old for the browser client; need 20 or newer" >&2
  exit 1
fi

# esbuild's postinstall only checks its binary, which the optional dependency
# @esbuild/<platform> already carries; --ignore-scripts keeps npm 11 from asking to approve it.
lock_stamp=node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$lock_stamp" ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  touch "$lock_stamp"
  echo "setup: frontend packages installed"
fi

# The stamp lives outside dist/, which the server publishes.
build_stamp=node_modules/.dist-built
if [ "$force" -eq 0 ] && [ -f "$build_stamp" ] && [ -f dist/index.html ] && [ -f dist/app.js ] \
  && [ -f dist/widget.js ] && [ -f dist/admin.js ] \
  && [ -z "$(find src index.html admin.html demo build.mjs package-lock.json \
  -newer "$build_stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
rm -f "$build_stamp"
if [ "$force" -eq 1 ]; then
  node build.mjs
else
  node build.mjs --quiet
  echo "setup: frontend built in frontend/dist"
fi
touch "$build_stamp"

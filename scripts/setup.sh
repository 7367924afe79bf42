#!/usr/bin/env bash
# Sets up a fresh clone: Debian packages the app and its tests use, then the npm dependencies
# (which include Node 22 itself, installed into node_modules/.bin; see README "Node 22").
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the UI tests drive it through playwright-core; espeak-ng: speech for voice-capture tests.
packages=(chromium espeak-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: please install ${missing[*]} with your package manager (needed by the browser and voice tests)" >&2
  fi
fi

npm ci --no-audit --no-fund

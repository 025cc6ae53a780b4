#!/usr/bin/env bash
# Installs what muxbench needs and builds it:
#   1. system packages (Debian/Ubuntu, with apt-get when run as root);
#   2. npm dependencies (npm ci);
#   3. the native programs and the TypeScript (npm run build).
# Safe to run again: each step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# Native build: compilers (C11, and C++17 for asio), libraries, llhttp's C sources (node-llhttp).
# Tools: linux-perf (profiles), strace (syscall count checks), util-linux (taskset),
# chromium (test/report-browser.test.ts opens report.html in it via playwright-core),
# clang with its runtimes (libFuzzer, ASan, UBSan: `make fuzz`, test/fuzz-corpus.test.ts).
PACKAGES=(build-essential pkg-config liburing-dev libuv1-dev libevent-dev libev-dev libasio-dev libssl-dev
          libxxhash-dev node-llhttp linux-perf strace util-linux chromium clang libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these system packages are missing: ${missing[*]}" >&2
    echo "setup: install them as root, e.g.: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
node_minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$node_major" -lt 20 ] || { [ "$node_major" -eq 20 ] && [ "$node_minor" -lt 19 ]; }; then
  echo "setup: Node.js 20.19 or newer is required (yargs 18 needs it) (found $(node -v))" >&2
  exit 1
fi

echo "setup: installing npm dependencies"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: building native programs and TypeScript"
npm run --silent build
echo "setup: done. Try: npx muxbench list"

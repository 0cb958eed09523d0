#!/usr/bin/env bash
# The test command of the README: installs redis-server where missing, then runs every
# test of the workspace (cargo-nextest when installed, cargo test otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: installing it with apt-get" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server \
      || echo "apt-get could not install redis-server" >&2
  else
    echo "no apt-get here: install redis-server (Redis 7+) with your package manager" >&2
  fi
fi
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true and redis-server is still missing: failing" >&2
    exit 1
  fi
  echo "warning: redis-server is missing; the Redis tests will fail" >&2
fi

if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --workspace "$@"
else
  echo "cargo-nextest not installed: using cargo test (install with: cargo install cargo-nextest --locked)" >&2
  exec cargo test --workspace "$@"
fi

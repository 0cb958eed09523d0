#!/usr/bin/env bash
# The production build (without the `dev` feature): lints, its own tests (dev mode
# answers one line and exit 2), and no `rsa` crate in its dependency tree.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo clippy -p auth0-client --no-default-features --all-targets -- -D warnings

tree=$(cargo tree -p auth0-client -e normal --no-default-features -i rsa 2>/dev/null || true)
if [ -n "$tree" ]; then
  echo "the production build (--no-default-features) depends on rsa:" >&2
  echo "$tree" >&2
  exit 1
fi
if ! cargo tree -p auth0-client -e normal -i rsa 2>/dev/null | grep -q '^rsa v'; then
  echo "check-production-build: 'cargo tree -i rsa' found rsa in no build at all; the check is broken" >&2
  exit 1
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p auth0-client --no-default-features -E 'test(/without_dev_mode/)'
else
  cargo test -p auth0-client --no-default-features --test api without_dev_mode
fi

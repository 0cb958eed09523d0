#!/usr/bin/env bash
# Checks that the workspace builds with the toolchain named by `rust-version` in
# Cargo.toml (the MSRV), installing it with rustup (minimal profile) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
  echo "installing Rust $msrv (the MSRV) with rustup" >&2
  rustup toolchain install "$msrv" --profile minimal
fi
echo "MSRV check: cargo +$msrv check --workspace --all-targets" >&2
cargo "+$msrv" check --workspace --all-targets --quiet

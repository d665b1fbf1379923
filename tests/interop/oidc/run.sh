#!/usr/bin/env bash
# Interop with a certified relying-party library from another ecosystem: npm
# openid-client 6 drives a real apex-idp demo server (discovery, code + PKCE, ID token
# validation, userinfo, introspection, refresh, revocation, client credentials,
# RP-initiated logout). Exits non-zero on any failure.
# usage: bash tests/interop/oidc/run.sh [path/to/apex-idp]   (built by cargo build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$here/../../../target}/debug/apex-idp}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
test -x "$bin" || { echo "no apex-idp binary at $bin (cargo build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "node (20 or later) is required" >&2; exit 1; }
cd "$here"
echo "== interop: npm openid-client against $bin"
npm ci --no-audit --no-fund --loglevel=error
node interop.mjs "$bin"

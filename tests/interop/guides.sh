#!/usr/bin/env bash
# Runs the LDAP examples of the integration guides (docs/guides/examples) against
# `apex-idp demo`: python ldap3, PHP ldap_* and Java JNDI each sign in a person who
# holds FICOBA:CONSULTATION, and refuse a wrong password and a person without it.
# Installs python3-ldap3 (pip), php-cli and php-ldap (apt) when missing; skips Java
# with a notice when no JDK is found.
#
#   tests/interop/guides.sh [path/to/apex-idp]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-${APEX_BIN:-target/debug/apex-idp}}
[ -x "$BIN" ] || cargo build --quiet --bin apex-idp
EXAMPLES=docs/guides/examples

python3 -c 'import ldap3' 2> /dev/null || pip install --quiet --root-user-action=ignore ldap3 > /dev/null
if ! php -m 2> /dev/null | grep -qx ldap; then
  echo "installing php-cli and php-ldap" >&2
  { apt-get install -y -qq php-cli php-ldap || { apt-get update -qq && apt-get install -y -qq php-cli php-ldap; }; } > /dev/null 2>&1
fi

WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
APEX_HTTP__LISTEN=127.0.0.1:0 APEX_LDAP__LISTEN=127.0.0.1:0 APEX_LDAP__LDAPS_LISTEN= \
APEX_ARGON2__M_KIB=64 APEX_ARGON2__T=1 APEX_LOG=warn \
  "$BIN" demo --no-app --data-dir "$WORK/demo" > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 1 300); do
  grep -q 'sign-ins' "$WORK/out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/err" >&2; echo "FAIL: apex-idp did not start" >&2; exit 1; }
  sleep 0.1
done
export LDAP_URL="ldap://$(awk '/^listening ldap /{print $3}' "$WORK/out")"
PW='Demo-Apex-2026!'

PASSED=0
FAILED=0
expect() { # NAME WANTED-EXIT COMMAND...
  local name=$1 want=$2; shift 2
  set +e; OUT=$("$@" 2>&1); local rc=$?; set -e
  if [ "$rc" -eq "$want" ]; then PASSED=$((PASSED + 1)); echo "ok   $name"; else
    FAILED=$((FAILED + 1)); echo "FAIL $name (exit $rc, wanted $want)"; printf '%s\n' "$OUT" | sed 's/^/     /'; fi
}
for lang in python php java; do
  case $lang in
    python) run=(python3 "$EXAMPLES/ldap3_check.py") ;;
    php) run=(php "$EXAMPLES/ldap_check.php") ;;
    java)
      if ! command -v java > /dev/null; then echo "skip java: no JDK on this machine"; continue; fi
      run=(java "$EXAMPLES/ApexLdapCheck.java") ;;
  esac
  expect "$lang: a person holding the profile signs in" 0 "${run[@]}" cdurand "$PW"
  expect "$lang: a wrong password is refused" 1 "${run[@]}" cdurand "not-the-password"
  expect "$lang: an empty password is refused (no anonymous bind)" 1 "${run[@]}" cdurand ""
  expect "$lang: a person without the profile is refused" 1 "${run[@]}" amartin "$PW"
done
echo "guide examples: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

#!/usr/bin/env bash
# Interop suite of the LDAP face with OpenLDAP's own clients (Debian ldap-utils):
# ldapsearch (plain, -ZZ StartTLS, ldaps://, -E pr=N/noprompt paging), ldapwhoami,
# ldapcompare, ldappasswd, and a refused ldapdelete. Runs `apex-idp demo` on a
# throw-away directory with every listener on port 0 and checks each result.
#
#   tests/interop/ldap.sh            # builds the debug binary first
#   APEX_BIN=target/release/apex-idp tests/interop/ldap.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
if ! command -v ldapsearch >/dev/null; then
  echo "installing ldap-utils" >&2
  apt-get install -y ldap-utils >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y ldap-utils >/dev/null; }
fi
BIN=${APEX_BIN:-target/debug/apex-idp}
[ -n "${APEX_BIN:-}" ] || cargo build --quiet --bin apex-idp

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

APEX_HTTP__LISTEN=127.0.0.1:0 \
APEX_LDAP__LISTEN=127.0.0.1:0 \
APEX_LDAP__LDAPS_LISTEN=127.0.0.1:0 \
APEX_TLS__CERT="$WORK/certs/server.pem" \
APEX_TLS__KEY="$WORK/certs/server-key.pem" \
APEX_LOG=warn \
  "$BIN" demo --data-dir "$WORK/demo" >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q '^listening ldaps ' "$WORK/stdout" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; echo "FAIL: the server did not start" >&2; exit 1; }
  sleep 0.1
done
LDAP="ldap://$(awk '/^listening ldap /{print $3}' "$WORK/stdout")"
LDAPS="ldaps://$(awk '/^listening ldaps /{print $3}' "$WORK/stdout")"
BASE="dc=apex,dc=dgfip,dc=gouv,dc=fr"
PW='Demo-Apex-2026!'
AMARTIN="uid=amartin,ou=people,$BASE"
export LDAPTLS_REQCERT=never   # the development certificate is self-signed

PASSED=0
FAILED=0
ok()   { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'; }
# expect NAME CODE COMMAND...: runs COMMAND, checks its exit code, keeps its output in $OUT.
expect() {
  local name=$1 code=$2; shift 2
  set +e; OUT=$("$@" 2>&1); local rc=$?; set -e
  if [ "$rc" -eq "$code" ]; then ok "$name"; else fail "$name (exit $rc, wanted $code)" "$OUT"; fi
}
# contains NAME TEXT: the last output contains TEXT.
contains() { if grep -qF -- "$2" <<<"$OUT"; then ok "$1"; else fail "$1" "$OUT"; fi; }
lacks()    { if grep -qF -- "$2" <<<"$OUT"; then fail "$1" "$OUT"; else ok "$1"; fi; }
count()    { local n; n=$(grep -c "$2" <<<"$OUT" || true); if [ "$n" -eq "$3" ]; then ok "$1"; else fail "$1 ($n, wanted $3)" "$OUT"; fi; }

# Root DSE and subschema, anonymously.
expect "rootDSE" 0 ldapsearch -x -LLL -H "$LDAP" -b "" -s base "(objectClass=*)" namingContexts supportedExtension supportedControl
contains "rootDSE names the base" "namingContexts: $BASE"
contains "rootDSE lists StartTLS" "supportedExtension: 1.3.6.1.4.1.1466.20037"
contains "rootDSE lists paged results" "supportedControl: 1.2.840.113556.1.4.319"
expect "subschema" 0 ldapsearch -x -LLL -H "$LDAP" -b "cn=Subschema" -s base "(objectClass=subschema)" attributeTypes objectClasses
contains "subschema publishes apexSiret" "NAME 'apexSiret'"
expect "anonymous cannot read the tree" 32 ldapsearch -x -LLL -H "$LDAP" -b "$BASE" -s sub "(objectClass=*)"

# Who am I? on the three transports.
expect "ldapwhoami plain (loopback)" 0 ldapwhoami -x -H "$LDAP" -D "$AMARTIN" -w "$PW"
contains "whoami names the person" "dn:$AMARTIN"
expect "ldapwhoami -ZZ" 0 ldapwhoami -x -ZZ -H "$LDAP" -D "$AMARTIN" -w "$PW"
contains "whoami over StartTLS" "dn:$AMARTIN"
expect "ldapwhoami ldaps://" 0 ldapwhoami -x -H "$LDAPS" -D "$AMARTIN" -w "$PW"
contains "whoami over LDAPS" "dn:$AMARTIN"
expect "bare login bind" 0 ldapwhoami -x -H "$LDAP" -D amartin -w "$PW"
expect "wrong password" 49 ldapwhoami -x -H "$LDAP" -D "$AMARTIN" -w wrong-password-here

# A person reads his structure; never the other one.
expect "person searches people -ZZ" 0 ldapsearch -x -LLL -ZZ -H "$LDAP" -D "$AMARTIN" -w "$PW" -b "ou=people,$BASE" -s one "(objectClass=inetOrgPerson)" uid
count "his structure's four accounts with an identifier" '^uid: ' 4
lacks "not the other structure" "uid: gbernard"
expect "person searches over ldaps://" 0 ldapsearch -x -LLL -H "$LDAPS" -D "$AMARTIN" -w "$PW" -b "$BASE" -s sub "(uid=bpetit)" employeeType apexProfile
contains "equality on uid" "employeeType: responsable"
contains "habilitations as apexProfile" "apexProfile: FICOBA:CONSULTATION"
expect "paged search" 0 ldapsearch -x -LLL -H "$LDAP" -D "$AMARTIN" -w "$PW" -b "$BASE" -s sub -E pr=2/noprompt "(objectClass=*)" 1.1
count "every entry once across pages" '^dn: ' "$(ldapsearch -x -LLL -H "$LDAP" -D "$AMARTIN" -w "$PW" -b "$BASE" -s sub "(objectClass=*)" 1.1 | grep -c '^dn: ')"
contains "paged results control" "pagedresults"
if [ -z "$(grep '^dn: ' <<<"$OUT" | sort | uniq -d)" ]; then ok "no entry twice across pages"; else fail "no entry twice across pages" "$OUT"; fi

# The FICOBA service account reads its habilitated accounts only.
expect "application search" 0 ldapsearch -x -LLL -H "$LDAP" -D "cn=FICOBA,ou=applications,$BASE" -w ficoba-ldap-secret -b "ou=people,$BASE" -s one "(objectClass=*)" uid apexProfile
count "FICOBA sees bpetit and cdurand" '^uid: ' 2
lacks "FICOBA does not see DEMO habilitations" "DEMO:"

# Compare.
expect "ldapcompare TRUE" 6 ldapcompare -x -H "$LDAP" -D "$AMARTIN" -w "$PW" "uid=bpetit,ou=people,$BASE" "employeeType:responsable"
expect "ldapcompare FALSE" 5 ldapcompare -x -H "$LDAP" -D "$AMARTIN" -w "$PW" "uid=bpetit,ou=people,$BASE" "employeeType:administrateur"
expect "ldapcompare on a hidden entry" 32 ldapcompare -x -H "$LDAP" -D "$AMARTIN" -w "$PW" "uid=gbernard,ou=people,$BASE" "employeeType:administrateur"

# Password Modify: his own, with the current one.
NEW='Nouvelle-Phrase-De-Passe-2026!'
expect "ldappasswd -ZZ" 0 ldappasswd -x -ZZ -H "$LDAP" -D "uid=cdurand,ou=people,$BASE" -w "$PW" -a "$PW" -s "$NEW"
expect "bind with the new password" 0 ldapwhoami -x -H "$LDAPS" -D "uid=cdurand,ou=people,$BASE" -w "$NEW"
expect "the old password no longer binds" 49 ldapwhoami -x -H "$LDAPS" -D "uid=cdurand,ou=people,$BASE" -w "$PW"
# ldappasswd exits 1 on any refusal; the result code is in its output.
expect "someone else's password" 1 ldappasswd -x -H "$LDAPS" -D "$AMARTIN" -w "$PW" -a "$PW" -s "$NEW" "uid=bpetit,ou=people,$BASE"
contains "refused as insufficient access" "Insufficient access (50)"

# Writes are refused.
expect "ldapdelete is unwilling" 53 ldapdelete -x -H "$LDAP" -D "$AMARTIN" -w "$PW" "uid=bpetit,ou=people,$BASE"

echo "ldap interop: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

#!/usr/bin/env bash
# The Debian package end to end: `cargo deb` builds it, dpkg installs it, the files,
# modes, owners, conffiles and the system user it installed are checked, the installed
# unit is verified by systemd-analyze, and the installed binary is started as the unit
# starts it (user apex-idp, umask 0077, a clean environment, the installed
# /etc/apex-idp/apex.toml; listeners on free ports, the store in a temporary
# directory) until /readyz answers; then it is stopped, and the package removed and
# purged. Last, tests/packaging/container.sh runs the Containerfile's command line on
# the same release binary. There is no systemd in a CI container: the unit itself is
# only verified, never started.
#
#   bash tests/packaging/run.sh        # as root (dpkg); installs what it needs
set -euo pipefail

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/apex-idp-target}"
export CARGO_TERM_COLOR=never

[ "$(id -u)" = 0 ] || { echo "tests/packaging/run.sh installs a package: run it as root" >&2; exit 1; }
# A real installation is never overwritten, nor purged, by a test.
if dpkg-query -W -f='${Status}' apex-idp 2>/dev/null | grep -q ' installed$'; then
  echo "apex-idp is installed on this machine: tests/packaging/run.sh would replace and purge it" >&2
  exit 1
fi

missing=()
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v adduser >/dev/null || missing+=(adduser)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v setpriv >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The version this was written and measured with; --locked: its own lock file.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" 2>&1 | tail -n 1
fi

WORK=$(mktemp -d)
chmod 0755 "$WORK"  # apex-idp reaches its store in there
SERVER_PID=
USER_BEFORE=$(getent passwd apex-idp || true)
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; fi
  if dpkg-query -W -f='${Status}' apex-idp 2>/dev/null | grep -q 'installed\|config-files'; then
    rm -f /etc/apex-idp/tls/fullchain.pem /etc/apex-idp/tls/privkey.pem
    dpkg --purge apex-idp >/dev/null 2>&1 || true
  fi
  # What the package keeps on purge (the store, the user) goes too when it was this
  # test's: the next run starts from the same clean machine.
  if [ -z "$USER_BEFORE" ]; then
    rm -rf /var/lib/apex-idp
    deluser --quiet --system apex-idp >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok()   { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'; }
# same NAME GOT WANTED
same() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got:    $2"$'\n'"wanted: $3"; fi; }
# mode NAME PATH OWNER:GROUP MODE
mode() { same "$1" "$(stat -c '%U:%G %a' "$2" 2>&1)" "$3 $4"; }

echo "== cargo deb"
# The release build it runs is the one Containerfile runs (cargo build --release --locked).
cargo deb --locked --output "$WORK/" 2>&1 | grep -v '^ *Compiling ' >&2 || true
DEB=$(ls "$WORK"/apex-idp_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || { echo "FAIL cargo deb made no package" >&2; exit 1; }
echo "built $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB)"
BIN="$CARGO_TARGET_DIR/release/apex-idp"

same "the package is apex-idp" "$(dpkg-deb -f "$DEB" Package)" apex-idp
depends=$(dpkg-deb -f "$DEB" Depends)
if grep -q 'libc6' <<<"$depends" && grep -q 'adduser' <<<"$depends"; then
  ok "it depends on libc6 (found by dpkg-shlibdeps) and adduser"
else
  fail "it depends on libc6 and adduser" "$depends"
fi
same "its conffiles are the configuration and the catalogue" \
  "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles | sort)" \
  "$(printf '%s\n' /etc/apex-idp/apex.toml /etc/apex-idp/catalogue.toml)"

echo "== dpkg -i"
dpkg -i "$DEB" >"$WORK/dpkg-i.txt" 2>&1 || { cat "$WORK/dpkg-i.txt" >&2; echo "FAIL dpkg -i" >&2; exit 1; }
if grep -q "not started" "$WORK/dpkg-i.txt"; then
  ok "the installation says the service is not started, and what to configure"
else
  fail "the installation says the service is not started" "$(cat "$WORK/dpkg-i.txt")"
fi
UNIT=$(dpkg -L apex-idp | grep '/systemd/system/apex-idp.service$' || true)
[ -n "$UNIT" ] || { echo "FAIL the package installed no systemd unit" >&2; dpkg -L apex-idp >&2; exit 1; }

mode "the binary: root's, executable by all" /usr/bin/apex-idp root:root 755
mode "the unit: root's, readable" "$UNIT" root:root 644
mode "/etc/apex-idp: root writes, the group apex-idp reads" /etc/apex-idp root:apex-idp 750
mode "/etc/apex-idp/tls: likewise, for the operator's certificate" /etc/apex-idp/tls root:apex-idp 750
mode "apex.toml: root writes, the group reads, nobody else" /etc/apex-idp/apex.toml root:apex-idp 640
mode "catalogue.toml (secret hashes): likewise" /etc/apex-idp/catalogue.toml root:apex-idp 640
mode "/var/lib/apex-idp: the service's alone" /var/lib/apex-idp apex-idp:apex-idp 700
same "apex.toml is config/apex.production.toml" \
  "$(sha256sum </etc/apex-idp/apex.toml)" "$(sha256sum <config/apex.production.toml)"
# cargo-deb strips it: the same build, told by its version line and its size.
same "the installed binary is the one built, stripped" \
  "$(/usr/bin/apex-idp --version) $(( $(stat -c %s /usr/bin/apex-idp) < $(stat -c %s "$BIN") ))" \
  "$("$BIN" --version) 1"
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd apex-idp)"
if [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/apex-idp ] && [ "$shell" = /usr/sbin/nologin ]; then
  ok "apex-idp is a system user with no shell (uid $uid)"
else
  fail "apex-idp is a system user with no shell" "$(getent passwd apex-idp)"
fi
same "the conffiles are registered with dpkg" \
  "$(dpkg-query -W -f='${Conffiles}\n' apex-idp | awk 'NF {print $1}' | sort)" \
  "$(printf '%s\n' /etc/apex-idp/apex.toml /etc/apex-idp/catalogue.toml)"
if [ -e /etc/systemd/system/multi-user.target.wants/apex-idp.service ]; then
  fail "the service is not enabled by the installation"
else
  ok "the service is not enabled by the installation"
fi
usr_doc=$(dpkg -L apex-idp | grep -c '^/usr/share/doc/apex-idp/' || true)
if [ "$usr_doc" -ge 2 ]; then ok "README and reference in /usr/share/doc/apex-idp"; else fail "README and reference in /usr/share/doc/apex-idp" "$(dpkg -L apex-idp)"; fi

echo "== systemd-analyze on the installed unit"
# `verify` reports what it ignores (unknown keys, bad values) and still exits 0: it
# must say nothing.
set +e; said=$(systemd-analyze verify "$UNIT" 2>&1); rc=$?; set -e
if [ "$rc" = 0 ] && [ -z "$said" ]; then ok "systemd-analyze verify: nothing to say"; else fail "systemd-analyze verify (exit $rc)" "$said"; fi
set +e; said=$(systemd-analyze security --offline=yes --threshold=20 "$UNIT" 2>&1); rc=$?; set -e
score=$(sed -n 's/.*Overall exposure level for apex-idp.service: \([0-9.]*\).*/\1/p' <<<"$said")
if [ "$rc" = 0 ] && [ -n "$score" ]; then ok "systemd-analyze security: exposure $score (at most 2.0)"; else fail "systemd-analyze security (exit $rc)" "$said"; fi

echo "== the installed binary, started as the unit starts it"
# The unit's command line, user, umask and environment, read from the installed unit.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
unit_user=$(sed -n 's/^User=//p' "$UNIT")
unit_umask=$(sed -n 's/^UMask=//p' "$UNIT")
unit_env=$(sed -n 's/^Environment=//p' "$UNIT")
same "the unit runs /usr/bin/apex-idp serve on the installed configuration" \
  "$exec_start" "/usr/bin/apex-idp serve --config /etc/apex-idp/apex.toml"
same "the unit runs as apex-idp" "$unit_user" apex-idp
# Runs CMD so; called in a subshell (`$(as_unit)` or `as_unit &`), whose process
# becomes the command's, so that $! is the server's own pid.
as_unit() {
  umask "$unit_umask"
  # shellcheck disable=SC2086 # the unit's Environment= words, as systemd splits them
  exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $unit_env \
    setpriv --reuid="$unit_user" --regid="$unit_user" --init-groups --no-new-privs -- "${CMD[@]}"
}

# As installed, the server refuses to start: the catalogue holds the demo's published
# secrets, and no certificate is in /etc/apex-idp/tls yet.
CMD=(/usr/bin/apex-idp check-config --config /etc/apex-idp/apex.toml)
set +e; said=$(as_unit 2>&1); rc=$?; set -e
if [ "$rc" = 1 ] && grep -q "demo catalogue's published secret" <<<"$said"; then
  ok "as installed, check-config refuses the demo catalogue's secrets"
else
  fail "as installed, check-config refuses the demo catalogue's secrets (exit $rc)" "$said"
fi

# What the operator does (README.md, "Packaging and installation"): a certificate, and
# a secret of its own for each application of the catalogue.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=apex.partenaires.example.fr -keyout /etc/apex-idp/tls/privkey.pem \
  -out /etc/apex-idp/tls/fullchain.pem >/dev/null 2>&1
chgrp apex-idp /etc/apex-idp/tls/privkey.pem /etc/apex-idp/tls/fullchain.pem
chmod 0640 /etc/apex-idp/tls/privkey.pem /etc/apex-idp/tls/fullchain.pem
hash=$(head -c 24 /dev/urandom | base64 | /usr/bin/apex-idp hash-secret --config /etc/apex-idp/apex.toml)
sed -i -E "s#^( *(client_secret_hash|bind_secret_hash) = ).*#\1\"$hash\"#" /etc/apex-idp/catalogue.toml

CMD=(/usr/bin/apex-idp check-config --config /etc/apex-idp/apex.toml)
set +e; said=$(as_unit 2>&1); rc=$?; set -e
if [ "$rc" = 0 ]; then ok "configured, check-config passes as apex-idp: $said"; else fail "configured, check-config passes (exit $rc)" "$said"; fi

STATE="$WORK/state"
install -d -o apex-idp -g apex-idp -m 0700 "$STATE"
CMD=(/usr/bin/apex-idp serve --config /etc/apex-idp/apex.toml)
unit_env="$unit_env APEX_SERVER__DATA_DIR=$STATE APEX_HTTP__LISTEN=127.0.0.1:0 APEX_MANAGEMENT__LISTEN=127.0.0.1:0 APEX_LDAP__LDAPS_LISTEN=127.0.0.1:0"
as_unit >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q '^listening ldaps ' "$WORK/stdout" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; echo "FAIL the installed server did not start" >&2; exit 1; }
  sleep 0.1
done
HTTP=$(awk '/^listening http /{print $3}' "$WORK/stdout")
MGMT=$(awk '/^listening management /{print $3}' "$WORK/stdout")
LDAPS=$(awk '/^listening ldaps /{print $3}' "$WORK/stdout")
[ -n "$HTTP" ] && [ -n "$MGMT" ] && [ -n "$LDAPS" ] || { cat "$WORK/stdout" "$WORK/stderr" >&2; echo "FAIL listeners" >&2; exit 1; }
ready=
for _ in $(seq 1 100); do
  ready=$(curl -s "http://$HTTP/readyz" || true)
  [ "$ready" = ready ] && break
  sleep 0.1
done
same "GET /readyz: ready" "$ready" ready
same "GET /readyz on the management listener: ready" "$(curl -s "http://$MGMT/readyz")" ready
same "/metrics answers on the management listener only" \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://$MGMT/metrics") $(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/metrics")" "200 404"
issuer=$(curl -s "http://$HTTP/.well-known/openid-configuration" | sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p')
same "the issuer is the production public_url" "$issuer" https://apex.partenaires.example.fr
said=$(openssl s_client -connect "$LDAPS" -servername apex.partenaires.example.fr </dev/null 2>&1 || true)
if grep -q 'subject=CN = apex.partenaires.example.fr' <<<"$said"; then
  ok "LDAPS serves the certificate of /etc/apex-idp/tls (key read by apex-idp)"
else
  fail "LDAPS serves the certificate of /etc/apex-idp/tls" "$said"
fi
same "the server runs as apex-idp" "$(stat -c %U "/proc/$SERVER_PID")" apex-idp
if json=$(head -n 1 "$WORK/stderr") && [ "${json:0:1}" = "{" ]; then ok "it logs JSON lines ([log] format = \"json\")"; else fail "it logs JSON lines" "$(head -n 3 "$WORK/stderr")"; fi

kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=
same "SIGTERM stops it with status 0" "$status" 0
foreign=$(find "$STATE" ! -user apex-idp -o -perm /077 | head -n 5)
same "every file of the store is apex-idp's, owner-only (UMask=0077)" "$foreign" ""

echo "== dpkg -i again: the upgrade path"
catalogue_sum=$(sha256sum </etc/apex-idp/catalogue.toml)
dpkg -i --force-confdef --force-confold "$DEB" >"$WORK/dpkg-upgrade.txt" 2>&1 \
  || { cat "$WORK/dpkg-upgrade.txt" >&2; echo "FAIL dpkg -i over the installed package" >&2; exit 1; }
same "the operator's catalogue is kept" "$(sha256sum </etc/apex-idp/catalogue.toml)" "$catalogue_sum"
mode "apex.toml keeps its group and mode" /etc/apex-idp/apex.toml root:apex-idp 640
mode "the operator's key keeps its group and mode" /etc/apex-idp/tls/privkey.pem root:apex-idp 640
if grep -q "not started" "$WORK/dpkg-upgrade.txt"; then
  fail "an upgrade does not repeat the first installation's notice" "$(cat "$WORK/dpkg-upgrade.txt")"
else
  ok "an upgrade does not repeat the first installation's notice"
fi

echo "== dpkg -r, then --purge"
dpkg -r apex-idp >/dev/null
if [ ! -e /usr/bin/apex-idp ] && [ ! -e "$UNIT" ] && [ -f /etc/apex-idp/apex.toml ]; then
  ok "removed: binary and unit gone, configuration kept"
else
  fail "removed: binary and unit gone, configuration kept" "$(ls -l /usr/bin/apex-idp "$UNIT" /etc/apex-idp 2>&1)"
fi
# The certificate is the operator's: he takes it away before the purge, or it stays.
rm /etc/apex-idp/tls/fullchain.pem /etc/apex-idp/tls/privkey.pem
dpkg --purge apex-idp >"$WORK/purge.txt" 2>&1
if [ ! -e /etc/apex-idp ] && [ -d /var/lib/apex-idp ] && getent passwd apex-idp >/dev/null; then
  ok "purged: /etc/apex-idp gone; the store and the user kept"
else
  fail "purged: /etc/apex-idp gone; the store and the user kept" "$(ls -ld /etc/apex-idp /var/lib/apex-idp 2>&1)"
fi
if grep -q "/var/lib/apex-idp" "$WORK/purge.txt"; then ok "the purge says the store is kept"; else fail "the purge says the store is kept" "$(cat "$WORK/purge.txt")"; fi

echo "== the container's command line"
bash tests/packaging/container.sh "$BIN" || FAILED=$((FAILED + 1))

echo "packaging: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

#!/usr/bin/env bash
# What of Containerfile can be tested without a container engine: the release binary
# (built as its build stage builds it) needs nothing the distroless runtime lacks, and
# the runtime stage's command line (ENTRYPOINT and CMD, its ENV, its USER, the
# production configuration it installs) starts the server, as uid 65532, on a copy of
# its /etc/apex-idp and /var/lib/apex-idp in a temporary directory, until /readyz
# answers; SIGTERM stops it. The image itself is not built here (`docker build` needs
# an engine).
#
#   bash tests/packaging/container.sh [BIN]   # default: builds target/release/apex-idp
#                                             # as root (to run as uid 65532)
set -euo pipefail

cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/apex-idp-target}"
FILE=Containerfile
[ "$(id -u)" = 0 ] || { echo "tests/packaging/container.sh runs the server as uid 65532: run it as root" >&2; exit 1; }

PASSED=0
FAILED=0
ok()   { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'; }
same() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got:    $2"$'\n'"wanted: $3"; fi; }

BUILD="cargo build --release --locked"
if grep -qF "$BUILD" "$FILE"; then ok "the build stage runs $BUILD"; else fail "the build stage runs $BUILD"; fi
BIN=${1:-}
if [ -z "$BIN" ]; then
  $BUILD --bin apex-idp
  BIN="$CARGO_TARGET_DIR/release/apex-idp"
fi

# distroless/cc-debian12 brings glibc and libgcc_s, nothing more.
libs=$(ldd "$BIN" | awk '$1 !~ /^(linux-vdso|\/lib64\/ld-linux)/ {print $1}' | sort)
extra=$(grep -vE '^(libc|libm|libgcc_s|libdl|libpthread|librt)\.so' <<<"$libs" || true)
same "the binary needs only glibc and libgcc_s (distroless/cc)" "$extra" ""

# The runtime stage, read from the Containerfile.
env_words=$(awk '/^ENV /{on=1; sub(/^ENV /, "")}
  on {line=$0; cont=sub(/\\$/, "", line); printf "%s ", line; if (!cont) on=0}' "$FILE")
mapfile -t entry < <(sed -n 's/^ENTRYPOINT \[\(.*\)\]$/\1/p' "$FILE" | grep -o '"[^"]*"' | tr -d '"')
mapfile -t cmd < <(sed -n 's/^CMD \[\(.*\)\]$/\1/p' "$FILE" | grep -o '"[^"]*"' | tr -d '"')
user=$(sed -n 's/^USER //p' "$FILE")
volume=$(sed -n 's/^VOLUME \["\(.*\)"\]$/\1/p' "$FILE")
expose=$(sed -n 's/^EXPOSE //p' "$FILE")
same "ENTRYPOINT is the installed binary" "${entry[*]}" /usr/bin/apex-idp
same "CMD serves the installed configuration" "${cmd[*]}" "serve --config /etc/apex-idp/apex.toml"
same "USER is the non-root 65532" "$user" 65532:65532
data_dir=
listen_ports=()
run_env=()
for word in $env_words; do
  case $word in
    *\"* | *\'*) fail "ENV $word: the test reads unquoted values only"; continue ;;
    APEX_SERVER__DATA_DIR=*) data_dir=${word#*=} ;;
    APEX_*_LISTEN=*)
      listen_ports+=("${word##*:}")
      word="${word%:*}:0" ;;  # a free port here; the image's own in the container
  esac
  run_env+=("$word")
done
same "the store is the VOLUME" "$data_dir" "$volume"
for port in "${listen_ports[@]}"; do
  if grep -qw "$port" <<<"$expose"; then ok "listener port $port is EXPOSEd"; else fail "listener port $port is EXPOSEd ($expose)"; fi
done

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# The image's tree, modes and owners as its build stage makes them, under $WORK; the
# configuration's /etc/apex-idp paths follow it there.
ETC="$WORK/etc/apex-idp"
install -d -m 0750 "$ETC" "$ETC/tls"
sed "s#/etc/apex-idp/#$ETC/#g" config/apex.production.toml >"$ETC/apex.toml"
hash=$(head -c 24 /dev/urandom | base64 | "$BIN" hash-secret --config "$ETC/apex.toml")
sed -E "s#^( *(client_secret_hash|bind_secret_hash) = ).*#\1\"$hash\"#" config/catalogue.toml >"$ETC/catalogue.toml"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=apex.partenaires.example.fr -keyout "$ETC/tls/privkey.pem" \
  -out "$ETC/tls/fullchain.pem" >/dev/null 2>&1
chmod 0640 "$ETC/apex.toml" "$ETC/catalogue.toml" "$ETC/tls/privkey.pem" "$ETC/tls/fullchain.pem"
chown -R 0:65532 "$ETC"
STORE="$WORK$data_dir"
install -d -o 65532 -g 65532 -m 0700 "$STORE"
chmod 0755 "$WORK"
# The binary as the build stage installs it (install -s: stripped).
install -s -m 0755 "$BIN" "$WORK/apex-idp"
BIN="$WORK/apex-idp"
args=("${cmd[@]/\/etc\/apex-idp\//$ETC/}")

(cd / && exec env -i PATH=/usr/bin:/bin "${run_env[@]}" APEX_SERVER__DATA_DIR="$STORE" \
  setpriv --reuid=65532 --regid=65532 --clear-groups --no-new-privs -- "$BIN" "${args[@]}") \
  >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q '^listening ldaps ' "$WORK/stdout" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; echo "FAIL the container's command did not start" >&2; exit 1; }
  sleep 0.1
done
listening=$(grep '^listening ' "$WORK/stdout" | awk '{print $2 " " $3}' | sort | tr '\n' ' ')
if grep -q 'http 0.0.0.0:' <<<"$listening" && grep -q 'management 0.0.0.0:' <<<"$listening" \
  && grep -q 'ldaps 0.0.0.0:' <<<"$listening"; then
  ok "it listens on every interface of the container: $listening"
else
  fail "it listens on every interface of the container" "$(cat "$WORK/stdout" "$WORK/stderr")"
fi
HTTP=127.0.0.1:$(awk '/^listening http /{print $3}' "$WORK/stdout" | sed 's/.*://')
MGMT=127.0.0.1:$(awk '/^listening management /{print $3}' "$WORK/stdout" | sed 's/.*://')
ready=
for _ in $(seq 1 100); do
  ready=$(curl -s "http://$HTTP/readyz" || true)
  [ "$ready" = ready ] && break
  sleep 0.1
done
same "GET /readyz (the image's probe): ready" "$ready" ready
same "GET /readyz on the management port: ready" "$(curl -s "http://$MGMT/readyz")" ready
same "the server runs as uid 65532" "$(stat -c %u "/proc/$SERVER_PID")" 65532
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=
same "SIGTERM (the engine's stop) ends it with status 0" "$status" 0
same "the store belongs to 65532" "$(find "$STORE" ! -uid 65532 | head -n 3)" ""

echo "container: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

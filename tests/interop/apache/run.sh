#!/usr/bin/env bash
# A real Apache in front of apex-idp, configured as docs/guides/apache.md says:
# mod_auth_openidc protects /app/ (Require claim profiles:DEMO:UTILISATEUR) and
# /admin/ (profiles:DEMO:ADMINISTRATEUR, which the person lacks); mod_authnz_ldap
# protects /ldap/ (Require ldap-attribute apexProfile=FICOBA:CONSULTATION) and
# /ldap-group/ (Require ldap-group cn=FICOBA:CONSULTATION,ou=profiles,…) with basic
# auth. chromium signs in through Apache (tests/browser/apache.mjs); curl checks the
# LDAP-protected locations. Installs apache2 and libapache2-mod-auth-openidc when
# missing; runs `apex-idp demo` on free ports.
#
#   tests/interop/apache/run.sh [path/to/apex-idp]
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${1:-${APEX_BIN:-target/debug/apex-idp}}
[ -x "$BIN" ] || cargo build --quiet --bin apex-idp

if [ ! -e /usr/lib/apache2/modules/mod_auth_openidc.so ]; then
  echo "installing apache2 and libapache2-mod-auth-openidc" >&2
  { apt-get install -y -qq apache2 libapache2-mod-auth-openidc || {
      apt-get update -qq && apt-get install -y -qq apache2 libapache2-mod-auth-openidc; }
  } > /dev/null 2>&1
fi
command -v curl > /dev/null || { echo "curl is needed" >&2; exit 1; }

WORK=$(mktemp -d)
chmod 755 "$WORK"
APEX_PID=
cleanup() {
  [ -n "$APEX_PID" ] && kill "$APEX_PID" 2>/dev/null && wait "$APEX_PID" 2>/dev/null
  [ -f "$WORK/apache.pid" ] && kill "$(cat "$WORK/apache.pid")" 2>/dev/null
  sleep 0.3
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APEX_PORT=$(free_port)
APACHE_PORT=$(free_port)
ISSUER="http://127.0.0.1:$APEX_PORT"
APACHE="http://127.0.0.1:$APACHE_PORT"
BASE="dc=apex,dc=dgfip,dc=gouv,dc=fr"

# The demo client, with Apache's redirect URI registered, in a copy of the catalogue.
sed "s|\"http://localhost:9000/callback\",|\"http://localhost:9000/callback\",\n    \"$APACHE/app/redirect\",|" \
  config/catalogue.toml > "$WORK/catalogue.toml"
grep -q "$APACHE/app/redirect" "$WORK/catalogue.toml" || { echo "FAIL: catalogue copy" >&2; exit 1; }

APEX_HTTP__LISTEN="127.0.0.1:$APEX_PORT" \
APEX_SERVER__PUBLIC_URL="$ISSUER" \
APEX_LDAP__LISTEN=127.0.0.1:0 \
APEX_LDAP__LDAPS_LISTEN= \
APEX_CATALOGUE__FILE="$WORK/catalogue.toml" \
APEX_ARGON2__M_KIB=64 APEX_ARGON2__T=1 APEX_LOG=warn \
  "$BIN" demo --no-app --data-dir "$WORK/demo" > "$WORK/apex.out" 2> "$WORK/apex.err" &
APEX_PID=$!
for _ in $(seq 1 300); do
  grep -q 'sign-ins' "$WORK/apex.out" 2>/dev/null && break
  kill -0 "$APEX_PID" 2>/dev/null || { cat "$WORK/apex.err" >&2; echo "FAIL: apex-idp did not start" >&2; exit 1; }
  sleep 0.1
done
LDAP_ADDR=$(awk '/^listening ldap /{print $3}' "$WORK/apex.out")
[ -n "$LDAP_ADDR" ] || { cat "$WORK/apex.out" "$WORK/apex.err" >&2; echo "FAIL: no LDAP listener" >&2; exit 1; }

mkdir -p "$WORK/htdocs/app" "$WORK/htdocs/admin" "$WORK/htdocs/ldap" "$WORK/htdocs/ldap-group"
for d in app admin ldap ldap-group; do echo "protected $d" > "$WORK/htdocs/$d/index.html"; done
chmod -R a+rX "$WORK/htdocs"
MODULES=/usr/lib/apache2/modules
cat > "$WORK/apache.conf" <<CONF
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
PidFile $WORK/apache.pid
ErrorLog $WORK/apache-error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule authz_user_module $MODULES/mod_authz_user.so
LoadModule authn_core_module $MODULES/mod_authn_core.so
LoadModule auth_basic_module $MODULES/mod_auth_basic.so
LoadModule ldap_module $MODULES/mod_ldap.so
LoadModule authnz_ldap_module $MODULES/mod_authnz_ldap.so
LoadModule auth_openidc_module $MODULES/mod_auth_openidc.so
LoadModule dir_module $MODULES/mod_dir.so
LoadModule mime_module $MODULES/mod_mime.so
TypesConfig /etc/mime.types
DirectoryIndex index.html
DocumentRoot $WORK/htdocs
<Directory $WORK/htdocs>
  Require all granted
</Directory>

# OpenID Connect (docs/guides/apache.md)
OIDCProviderMetadataURL $ISSUER/.well-known/openid-configuration
OIDCClientID demo
OIDCClientSecret demo-client-secret
OIDCRedirectURI $APACHE/app/redirect
OIDCCryptoPassphrase $(head -c 32 /dev/urandom | base64)
OIDCScope "openid apex"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username
<Location /app/>
  AuthType openid-connect
  Require claim profiles:DEMO:UTILISATEUR
</Location>
<Location /admin/>
  AuthType openid-connect
  Require claim profiles:DEMO:ADMINISTRATEUR
</Location>

# LDAP (docs/guides/apache.md)
<Location /ldap/>
  AuthType Basic
  AuthName "APEX"
  AuthBasicProvider ldap
  AuthLDAPURL "ldap://$LDAP_ADDR/ou=people,$BASE?uid?sub"
  AuthLDAPBindDN "cn=FICOBA,ou=applications,$BASE"
  AuthLDAPBindPassword ficoba-ldap-secret
  Require ldap-attribute apexProfile=FICOBA:CONSULTATION
</Location>
<Location /ldap-group/>
  AuthType Basic
  AuthName "APEX"
  AuthBasicProvider ldap
  AuthLDAPURL "ldap://$LDAP_ADDR/ou=people,$BASE?uid?sub"
  AuthLDAPBindDN "cn=FICOBA,ou=applications,$BASE"
  AuthLDAPBindPassword ficoba-ldap-secret
  AuthLDAPGroupAttribute member
  AuthLDAPGroupAttributeIsDN on
  Require ldap-group cn=FICOBA:CONSULTATION,ou=profiles,$BASE
</Location>
CONF
APACHE_RUN_DIR="$WORK" APACHE_LOCK_DIR="$WORK" APACHE_LOG_DIR="$WORK" \
  /usr/sbin/apache2 -f "$WORK/apache.conf" -k start
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$APACHE/ldap/" && break
  sleep 0.1
done

PASSED=0
FAILED=0
check() { # NAME WANTED GOT
  if [ "$2" = "$3" ]; then PASSED=$((PASSED + 1)); echo "ok   $1"; else
    FAILED=$((FAILED + 1)); echo "FAIL $1 (got $3, wanted $2)"; fi
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
PW='Demo-Apex-2026!'
check "ldap: a person holding FICOBA:CONSULTATION is let in" 200 "$(status -u "cdurand:$PW" "$APACHE/ldap/")"
check "ldap: a wrong password is refused" 401 "$(status -u "cdurand:not-the-password" "$APACHE/ldap/")"
check "ldap: a person without the profile is refused" 401 "$(status -u "amartin:$PW" "$APACHE/ldap/")"
check "ldap: an unknown login is refused" 401 "$(status -u "nobody:$PW" "$APACHE/ldap/")"
check "ldap group: a member of cn=FICOBA:CONSULTATION is let in" 200 "$(status -u "bpetit:$PW" "$APACHE/ldap-group/")"
check "ldap group: a person outside the group is refused" 401 "$(status -u "amartin:$PW" "$APACHE/ldap-group/")"
check "oidc: an anonymous request goes to the issuer" 302 "$(status "$APACHE/app/")"
LOCATION=$(curl -s -o /dev/null -w '%{redirect_url}' "$APACHE/app/")
case "$LOCATION" in
  "$ISSUER/oidc/authorize?"*code_challenge_method=S256*) check "oidc: authorization request with PKCE to the issuer" yes yes ;;
  *) check "oidc: authorization request with PKCE to the issuer" "$ISSUER/oidc/authorize?…" "$LOCATION" ;;
esac

# The browser: sign in through Apache, see the protected page; a location that needs
# a profile the person lacks answers 401.
if [ ! -d tests/browser/node_modules ]; then
  (cd tests/browser && npm install --no-audit --no-fund --silent)
fi
set +e
APACHE="$APACHE" node tests/browser/apache.mjs
BROWSER=$?
set -e
check "chromium: sign-in through mod_auth_openidc" 0 "$BROWSER"

echo "apache interop: $PASSED passed, $FAILED failed"
if [ "$FAILED" -ne 0 ]; then
  echo "--- apache error log"; tail -30 "$WORK/apache-error.log" || true
  echo "--- apex-idp stderr"; tail -30 "$WORK/apex.err" || true
  exit 1
fi

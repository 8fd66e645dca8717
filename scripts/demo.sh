#!/usr/bin/env bash
# End-to-end demonstration on a fresh Debian 12 (run as root: sudo ./scripts/demo.sh).
#
#  1. installs missing packages, builds the module and trustapp-admin
#  2. generates two application keys, registers them with trustapp-admin
#     (demo-app from 127.0.0.1 on /rest and /echo; lan-app only from 10.0.0.0/8)
#  3. starts a private apache2 on 127.0.0.1:<free port> from build/demo
#     (never /etc/apache2, never port 80)
#  4. sends one accepted signed request and several refused ones, printing
#     each answer's TrustedApp-Error reason, then stops the server
# Exit status 0 only when every outcome was the expected one.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run as root (sudo ./scripts/demo.sh): packages may need installing and apache2 switches to www-data" >&2
  exit 1
fi

"$src/scripts/deps.sh"
"$src/scripts/build.sh" "$src/build/release" --enable-werror

PY=/usr/bin/python3
ADMIN="$src/build/release/tools/trustapp-admin"
MODULE="$src/build/release/mod_trustedapp/mod_trustedapp.so"
TASIG="$src/tests/integration/tasig.py"

demo="$src/build/demo"
rm -rf "$demo"
mkdir -p "$demo"
# apache2's children run as www-data and read the registry, the document
# root and the handler; a checkout under /root is not readable for them.
if ! runuser -u www-data -- test -x "$demo" 2>/dev/null; then
  demo=$(mktemp -d /tmp/trustedapp-demo.XXXXXX)
  echo "demo: $src/build is not readable by www-data, running from $demo instead"
fi
chmod 755 "$demo"
mkdir -p "$demo/htdocs/rest" "$demo/htdocs/secure" "$demo/run" "$demo/keys"
echo "REST resource" > "$demo/htdocs/rest/index.html"
echo "secret" > "$demo/htdocs/secure/index.html"
cat > "$demo/echo.lua" <<'LUA'
function handle(r)
  r.content_type = "text/plain"
  r:puts("REMOTE_USER=" .. (r.user or "") .. "\n")
  r:puts("TRUSTEDAPP_ID=" .. (r.subprocess_env["TRUSTEDAPP_ID"] or "") .. "\n")
  return apache2.OK
end
LUA

section() { printf '\n==== %s ====\n' "$*"; }

section "keys and registry (trustapp-admin)"
registry="$demo/registry.xml"
"$ADMIN" keygen --alg ed25519 --out "$demo/keys/demo-app.key" --public-out "$demo/keys/demo-app.pub" >/dev/null
"$ADMIN" keygen --alg ed25519 --out "$demo/keys/lan-app.key" --public-out "$demo/keys/lan-app.pub" >/dev/null
"$ADMIN" keygen --alg ed25519 --out "$demo/keys/attacker.key" >/dev/null
"$ADMIN" --registry "$registry" add --public-key "$demo/keys/demo-app.pub" --id demo-app \
  --name "Demo application" --timeout 60000 --ip 127.0.0.1 --ip ::1 --path /rest --path /echo
"$ADMIN" --registry "$registry" add --public-key "$demo/keys/lan-app.pub" --id lan-app \
  --name "LAN-only application" --timeout 60000 --ip 10.0.0.0/8 --path /rest
chmod 644 "$registry"
"$ADMIN" --registry "$registry" validate
"$ADMIN" --registry "$registry" list

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
cat > "$demo/httpd.conf" <<CONF
ServerRoot "$demo"
DefaultRuntimeDir "$demo/run"
PidFile "$demo/httpd.pid"
ErrorLog "$demo/error.log"
LogLevel warn trustedapp:info
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so
LoadModule trustedapp_module "$MODULE"
User www-data
Group www-data
TypesConfig /etc/mime.types
DocumentRoot "$demo/htdocs"
DirectoryIndex index.html
LuaMapHandler "^/echo" "$demo/echo.lua" handle

TrustedAppRegistry "$registry"
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  Require valid-user
  TrustedAppErrorDetail on
</Location>
CONF

section "apache2 on $base"
/usr/sbin/apache2 -d "$demo" -f "$demo/httpd.conf" -t
/usr/sbin/apache2 -d "$demo" -f "$demo/httpd.conf" -k start
stop_server() {
  local pid
  pid=$(cat "$demo/httpd.pid" 2>/dev/null || true)
  /usr/sbin/apache2 -d "$demo" -f "$demo/httpd.conf" -k stop 2>/dev/null || true
  for _ in $(seq 50); do
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
}
trap stop_server EXIT
for _ in $(seq 50); do
  curl -s -o /dev/null "$base/" && break
  sleep 0.1
done

failures=0
# expect NAME STATUS TOKEN KEY KEYID PATH [tasig options...]
expect() {
  local name=$1 want_status=$2 want_token=$3 key=$4 keyid=$5 path=$6
  shift 6
  local -a hdr_args=()
  local line
  if [[ "$key" != "-" ]]; then
    while IFS= read -r line; do
      hdr_args+=(-H "$line")
    done < <("$PY" "$TASIG" --key "$key" --keyid "$keyid" --user alice "$@" "$base$path")
  fi
  local out status token detail body
  out=$(curl -s -D - -o "$demo/body" "${hdr_args[@]}" "$base$path")
  status=$(printf '%s' "$out" | awk 'NR==1 {print $2}')
  token=$(printf '%s' "$out" | tr -d '\r' | awk -F': ' 'tolower($1)=="trustedapp-error" {print $2}')
  detail=$(printf '%s' "$out" | tr -d '\r' | awk -F': ' 'tolower($1)=="trustedapp-error-detail" {print $2}')
  body=$(tr '\n' ' ' < "$demo/body")
  if [[ "$status" == "$want_status" && "$token" == "$want_token" ]]; then
    printf 'ok    %-34s -> %s %s\n' "$name" "$status" "${token:-$body}"
  else
    printf 'FAIL  %-34s -> %s %s (expected %s %s)\n' "$name" "$status" "${token:-$body}" "$want_status" "${want_token:-(none)}"
    failures=$((failures + 1))
  fi
  [[ -n "$detail" ]] && printf '      reason: %s\n' "$detail"
  return 0
}

section "requests"
log_start=$(wc -l < "$demo/error.log")
keys="$demo/keys"
expect "signed GET /echo as alice" 200 "" "$keys/demo-app.key" demo-app /echo/hello
grep -q '^REMOTE_USER=alice$' "$demo/body" || { echo "FAIL  REMOTE_USER was not alice"; failures=$((failures + 1)); }
sed 's/^/      /' "$demo/body"
expect "unsigned request" 401 no-credentials - - /rest/
expect "bad signature (wrong key)" 401 bad-signature "$keys/attacker.key" demo-app /rest/
expect "wrong client IP (lan-app)" 403 ip-not-allowed "$keys/lan-app.key" lan-app /rest/
expect "path not allowed (/secure)" 403 path-not-allowed "$keys/demo-app.key" demo-app /secure/
now=$(date +%s)
expect "expired signature" 401 signature-expired "$keys/demo-app.key" demo-app /rest/ \
  --created $((now - 30)) --expires $((now - 5))
expect "unknown application" 401 unknown-app "$keys/demo-app.key" nobody /rest/

section "error log (one line per refusal)"
tail -n +"$((log_start + 1))" "$demo/error.log" | grep -E 'TA[0-9]{4} ' | sed -E 's/^\[[^]]*\] //'

section "replay: the accepted request sent again"
mapfile -t replay_headers < <("$PY" "$TASIG" --key "$keys/demo-app.key" --keyid demo-app --user alice "$base/rest/")
replay_args=()
for h in "${replay_headers[@]}"; do replay_args+=(-H "$h"); done
first=$(curl -s -o /dev/null -w '%{http_code}' "${replay_args[@]}" "$base/rest/")
second=$(curl -s -D - -o /dev/null "${replay_args[@]}" "$base/rest/" | tr -d '\r' | awk -F': ' 'NR==1 {s=$0} tolower($1)=="trustedapp-error" {t=$2} END {print s " " t}')
echo "first: $first, second: $second"
if [[ "$first" != 200 || "$second" != *" 401 "*replay ]]; then
  echo "FAIL  replay was not refused"
  failures=$((failures + 1))
fi

stop_server
trap - EXIT
if ((failures)); then
  section "demo FAILED: $failures unexpected outcome(s)"
  exit 1
fi
section "demo passed: every outcome as expected"

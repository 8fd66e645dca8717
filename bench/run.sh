#!/usr/bin/env bash
# Benchmark of mod_trustedapp (run by hand, as root, on Debian 12; not in CI).
# What it measures and how to read it: bench/README.md.
#
#   bench/run.sh                    full run (about 10 minutes)
#   BENCH_QUICK=1 bench/run.sh      small counts, to check the set-up (about 1 minute)
#
# Environment (defaults in brackets):
#   BENCH_BUILD_DIR       build tree [<repo>/build/release]; built with scripts/build.sh
#   BENCH_SKIP_BUILD=1    use the build tree as it is
#   BENCH_REQUESTS        requests per measured run [12000]
#   BENCH_CONNECTIONS     concurrent wrk connections [32]
#   BENCH_ROUNDS          rounds of open + key-type runs, medians reported [9]
#   BENCH_REGISTRY_SIZES  applications per registry-size run ["10 1000 100000"]
#   BENCH_PATTERNS        IP patterns and path prefixes of the one large app [1000]
#   BENCH_SOAK_SECONDS    length of the memory-growth run [60]
#   BENCH_REPLAY_CACHE    value for TrustedAppReplayCache [table:256M]
#   BENCH_KEEP=1          keep the work directory
#   BENCH_VERBOSE=1       print every wrk run's result line
#   BENCH_PERF=1          add an in-situ perf profile of one ed25519 run (indicative:
#                         DWARF unwinding through libcrypto loses call chains)
#   BENCH_SERIAL=0        skip the one-connection comparison
#   BENCH_SERIAL_ROUNDS   rounds of the one-connection comparison [5]
#   BENCH_INSTRUCTIONS=0  skip the instruction counts under valgrind (about 3 minutes)
#   BENCH_INSTRUCTION_REQUESTS  requests per path under valgrind [300]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bench="$src/bench"
build=${BENCH_BUILD_DIR:-$src/build/release}
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  : "${BENCH_REQUESTS:=2000}" "${BENCH_REGISTRY_SIZES:=10 1000}" "${BENCH_SOAK_SECONDS:=5}" "${BENCH_ROUNDS:=1}"
fi
requests=${BENCH_REQUESTS:-12000}
conns=${BENCH_CONNECTIONS:-32}
rounds=${BENCH_ROUNDS:-9}
sizes=${BENCH_REGISTRY_SIZES:-10 1000 100000}
patterns=${BENCH_PATTERNS:-1000}
soak_seconds=${BENCH_SOAK_SECONDS:-60}
slack=$((4 * conns + 200))   # entries per wrk thread kept back for requests in flight
apache2=/usr/sbin/apache2
modules=/usr/lib/apache2/modules

die() { echo "bench: FAILED: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- prerequisites
[[ $(id -u) -eq 0 ]] || die "run as root (installs wrk if missing; apache2 children run as www-data)"
[[ -x $apache2 ]] || die "apache2 is not installed: run scripts/deps.sh"
# install_tool COMMAND PACKAGE: apt-get it when missing (the benchmark's own tools)
install_tool() {
  command -v "$1" >/dev/null && return 0
  note "installing $2"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  command -v "$1" >/dev/null || die "$2 could not be installed"
}
install_tool wrk wrk
if [[ "${BENCH_INSTRUCTIONS:-1}" == 1 ]]; then install_tool valgrind valgrind; fi
for tool in taskset python3 cc; do
  command -v $tool >/dev/null || die "$tool is missing: run scripts/deps.sh"
done

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  note "building $build"
  (cd "$src" && ./scripts/build.sh "$build") >&2 || die "build failed (./scripts/build.sh $build)"
fi
so="$build/mod_trustedapp/mod_trustedapp.so"
lib="$build/lib/.libs/libtrustedapp.a"
[[ -f "$lib" ]] || die "$lib not found: the library did not build"
[[ -f "$so" ]] || die "$so not found: mod_trustedapp did not build"

work=$(mktemp -d /tmp/ta-bench.XXXXXX)
chmod 755 "$work"
server_root=""
cleanup() {
  [[ -n "$server_root" ]] && stop_httpd
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then note "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Helpers compiled against the very library the module links.
mkdir -p "$work/bin"
for prog in verify_floor verify_request registry_load; do
  cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I"$src/lib" \
     $(apr-1-config --cppflags --includes) $(apu-1-config --includes) \
     "$bench/$prog.c" "$lib" $(pkg-config --libs libcrypto libxml-2.0 jansson) \
     $(apr-1-config --link-ld) $(apu-1-config --link-ld) -o "$work/bin/$prog" \
    || die "cannot compile bench/$prog.c against $lib"
done

# ---------------------------------------------------------------- CPU split
# The server and the load generator get disjoint cores, so "per core" means
# something: overhead = (1/rps_auth - 1/rps_open) * server_cores.
ncpu=$(nproc)
if ((ncpu >= 2)); then
  server_cores=$((ncpu / 2))
  server_cpus="0-$((server_cores - 1))"
  client_cpus="$server_cores-$((ncpu - 1))"
  wrk_threads=$((ncpu - server_cores))
else
  server_cores=1 server_cpus=0 client_cpus=0 wrk_threads=1
  note "one CPU only: server and wrk share it, overheads are upper bounds"
fi

# The control location's module (bench/mod_bench_verify.c): no
# authentication, one verification per request with the OpenSSL calls
# ta_key_verify makes.
command -v apxs >/dev/null || die "apxs is missing: run scripts/deps.sh"
cc -shared -fPIC -O2 $(apxs -q CFLAGS) -I"$(apxs -q INCLUDEDIR)" \
   $(apr-1-config --cppflags --includes) $(apu-1-config --includes) \
   "$bench/mod_bench_verify.c" -o "$work/bin/mod_bench_verify.so" $(pkg-config --libs libcrypto) \
  || die "cannot compile bench/mod_bench_verify.c"

# ---------------------------------------------------------------- apache2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# write_conf DIR PORT [controls]: one mpm_event server; /open is a static
# file without authentication, /protected the same file behind AuthType
# TrustedApp; with "controls", /verify-<key type> too (signing their bases
# takes a second at start-up, so only the main server has them).
write_conf() {
  local dir=$1 port=$2 with_controls=${3:-} user=""
  mkdir -p "$dir/htdocs" "$dir/run"
  echo ok > "$dir/htdocs/open"
  echo ok > "$dir/htdocs/protected"
  local kt controls=""
  for kt in "${key_types[@]}"; do
    [[ -n "$with_controls" ]] || break
    echo ok > "$dir/htdocs/verify-$kt"
    controls+="<Location \"/verify-$kt\">
  AuthType BenchVerify
  AuthName \"bench\"
  BenchVerify ${alg_of[$kt]} \"$work/$kt.key\"
  Require valid-user
</Location>
"
  done
  [[ $(id -u) -eq 0 ]] && user=$'User www-data\nGroup www-data'
  local replay=""
  # Every nonce of a run stays valid for its hour: the main server's table
  # must hold them all (about 1 million), or the run measures evictions; the
  # others see under 50,000 and keep the module's default (16 MiB).
  if [[ -n "$with_controls" ]]; then
    replay="TrustedAppReplayCache \"${BENCH_REPLAY_CACHE:-table:256M}\""
  elif [[ -n "${BENCH_REPLAY_CACHE:-}" ]]; then
    replay="TrustedAppReplayCache \"$BENCH_REPLAY_CACHE\""
  fi
  cat > "$dir/httpd.conf" <<EOF
# generated by bench/run.sh
ServerRoot "$dir"
DefaultRuntimeDir "$dir/run"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error.log"
LogLevel warn
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
Include "$bench/server-base.conf"
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule trustedapp_module "$so"
LoadModule bench_verify_module "$work/bin/mod_bench_verify.so"
$user
DocumentRoot "$dir/htdocs"
TrustedAppRegistry "$dir/registry.xml"
$replay
<Location "/protected">
  AuthType TrustedApp
  AuthName "bench"
  Require valid-user
</Location>
$controls
EOF
}

# start_httpd DIR: sets server_root and start_ms (start-up until the port answers).
start_httpd() {
  local dir=$1 port t0 t1
  port=$(sed -n 's/^Listen 127.0.0.1://p' "$dir/httpd.conf")
  local test_out
  test_out=$("$apache2" -d "$dir" -f "$dir/httpd.conf" -t 2>&1) \
    || die "apache2 -t refused the configuration (is the module functional?):"$'\n'"$test_out"
  t0=$(date +%s%N)
  taskset -c "$server_cpus" "$apache2" -d "$dir" -f "$dir/httpd.conf" -k start \
    || die "apache2 did not start:"$'\n'"$(tail -20 "$dir/error.log" 2>/dev/null)"
  server_root=$dir
  for _ in $(seq 1 600); do
    if [[ -s "$dir/httpd.pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      t1=$(date +%s%N)
      start_ms=$(((t1 - t0) / 1000000))
      return 0
    fi
    sleep 0.1
  done
  die "apache2 did not come up on port $port:"$'\n'"$(tail -20 "$dir/error.log")"
}

stop_httpd() {
  local dir=$server_root pid
  server_root=""
  pid=$(cat "$dir/httpd.pid" 2>/dev/null || true)
  "$apache2" -d "$dir" -f "$dir/httpd.conf" -k stop >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
}

# RSS of the parent and its children, in KiB. RSS counts the pages the
# children share copy-on-write with the parent (the registry is parsed once,
# in the parent, before the fork) once per process: httpd_pss_kb divides
# shared pages among their users and is the memory the server really holds.
httpd_rss_kb() { httpd_mem_kb VmRSS status; }
httpd_pss_kb() { httpd_mem_kb Pss smaps_rollup; }
httpd_mem_kb() {
  local parent total=0 pid kb
  parent=$(cat "$server_root/httpd.pid")
  for pid in $parent $(ps --ppid "$parent" -o pid= 2>/dev/null); do
    kb=$(awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/$2" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo $total
}

# Shared anonymous memory (the replay nonce table, or shmcb) in KiB, PSS
# summed over processes: it fills as nonces arrive, up to its configured size.
httpd_shared_anon_kb() {
  local parent pid total=0 kb
  parent=$(cat "$server_root/httpd.pid")
  for pid in $parent $(ps --ppid "$parent" -o pid= 2>/dev/null); do
    kb=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {z = ($NF == "(deleted)" && $(NF-1) == "/dev/zero")}
              z && $1 == "Pss:" {t += $2} END {print t + 0}' "/proc/$pid/smaps" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo $total
}

# server_cpu_ns SERVER_ROOT: the server's CPU time so far (shared with compare.sh)
# shellcheck source=bench/server_cpu.sh
. "$bench/server_cpu.sh"

# Lines of the error log that signal trouble.
error_lines() { grep -cE '\[(\w+:)?(error|crit|alert|emerg)\]|exit signal|Segmentation' "$1/error.log" || true; }

# ---------------------------------------------------------------- load runs
# run_wrk LIST PATH [DURATION]: walks the pre-signed LIST; prints the BENCH
# line plus cpu_us= (server CPU per response, from schedstat; wrk's own
# requests still in flight at the end are answered but not counted, which
# the slack keeps small).
run_wrk() {
  local list=$1 path=$2 duration=${3:-600} port out line cpu0 cpu1
  port=$(sed -n 's/^Listen 127.0.0.1://p' "$server_root/httpd.conf")
  cpu0=$(server_cpu_ns "$server_root")
  out=$(BENCH_LIST=$list BENCH_PATH=$path BENCH_SLACK=$slack \
        taskset -c "$client_cpus" wrk -t "$((conns < wrk_threads ? conns : wrk_threads))" -c "$conns" -d "${duration}s" --timeout 10s \
        -s "$bench/walk.lua" "http://127.0.0.1:$port" 2>&1) || die "wrk failed:"$'\n'"$out"
  cpu1=$(server_cpu_ns "$server_root")
  line=$(grep '^BENCH ' <<<"$out") || die "wrk printed no result:"$'\n'"$out"
  (($(field "$line" responses) > 0)) || die "wrk got no response on $path:"$'\n'"$out"
  line="$line cpu_us=$(python3 -c "print('%.2f' % (($cpu1 - $cpu0) / 1e3 / max(1, $(field "$line" responses))))")"
  if [[ "${BENCH_VERBOSE:-0}" == 1 ]]; then note "$path ${list##*/}: $line"; fi
  echo "$line"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# sign LIST_PREFIX KEYID KEYFILE COUNT PORT
sign() {
  python3 "$bench/bench_data.py" sign --key "$3" --keyid "$2" --count "$4" --threads "$wrk_threads" \
    --url "http://127.0.0.1:$5/protected" "$1" || die "signing $2 failed"
}

per_thread_total() { echo $(( (($1 + wrk_threads - 1) / wrk_threads + slack) * wrk_threads )); }

# warm_up DIR PORT: signed traffic on /protected, so that every child has
# loaded its registry generation (children parse it themselves) and the
# replay cache and worker threads exist before anything is measured.
warm_up() {
  sign "$1/warm" bench-ed25519 "$work/ed25519.key" "$(per_thread_total 3000)" "$2"
  run_wrk "$1/warm" /protected >/dev/null
}

# ---------------------------------------------------------------- keys
declare -A alg_of=([ed25519]=ed25519 [ecdsa-p256]=ecdsa-p256-sha256 [rsa-2048]=rsa-pss-sha512)
key_types=(ed25519 ecdsa-p256 rsa-2048)
apps=()
for kt in "${key_types[@]}"; do
  python3 "$bench/bench_data.py" keygen "${alg_of[$kt]}" "$work/$kt" || die "keygen $kt"
  apps+=(--app "bench-$kt:${alg_of[$kt]}:$work/$kt.pub")
done

results=()   # "label|rps|overhead_us|floor_us|non2xx|extra"
# floor: the bare OpenSSL verification (everything prepared once, as
# `openssl speed` measures it, plus hashing the base); key_verify: the
# library call the module makes. "Beyond verify" is counted from the floor.
declare -A floor key_verify_us
declare -A lib_full lib_floor lib_beyond
note "measuring the OpenSSL verify floor"
while read -r kind alg us; do
  case $kind in bare) floor[$alg]=$us ;; floor) key_verify_us[$alg]=$us ;; esac
done < <(taskset -c "$server_cpus" "$work/bin/verify_floor" 1)
# In process, same core: ta_verify_request (everything the library does per
# request) against ta_key_verify over the same bases, interleaved rounds.
note "measuring ta_verify_request against ta_key_verify in process"
while read -r _ alg full fl beyond; do
  lib_full[$alg]=$full lib_floor[$alg]=$fl lib_beyond[$alg]=$beyond
done < <(taskset -c "$server_cpus" "$work/bin/verify_request" "${BENCH_LIB_ROUNDS:-9}" 2000 1000)

# ---------------------------------------------------------------- 1. key types
note "key-type runs: $requests requests each, $conns connections, server on CPUs $server_cpus, wrk on $client_cpus"
main="$work/main"
port=$(free_port)
write_conf "$main" "$port" controls
python3 "$bench/bench_data.py" registry --fillers 10 "${apps[@]}" "$main/registry.xml" || die "registry"
start_httpd "$main"
python3 "$bench/bench_data.py" smoke --port "$port" --key "$work/ed25519.key" --keyid bench-ed25519 \
  || die "the module is not functional yet (see the smoke line above and $main/error.log)"

total=$(per_thread_total "$requests")
for kt in "${key_types[@]}"; do
  for round in $(seq 1 "$rounds"); do
    sign "$work/list-$kt-$round" "bench-$kt" "$work/$kt.key" "$total" "$port"
  done
done
warm_up "$main" "$port"

# Rounds of: /open before every key-type run on /protected, so each
# authenticated run is compared with the /open runs just before and after it
# (the machine's speed drifts); medians over rounds damp the rest of the
# noise. /open carries the very same headers (the list the next /protected
# run consumes), so only the module's work differs.
declare -A runs       # key type -> BENCH lines, one per round
declare -A pair_overheads  # key type -> per-round overhead vs the neighbouring /open runs (from req/s)
declare -A pair_cpu        # the same from the server's CPU time per response
declare -A control_cpu pair_control   # the control location, and /protected minus it (same round)
control_bad=0
open_runs=()
prev_open=$(run_wrk "$work/list-ed25519-1" /open)
open_runs+=("$prev_open")
for round in $(seq 1 "$rounds"); do
  for i in "${!key_types[@]}"; do
    kt=${key_types[$i]}
    # the control verifies its own signatures: the list's headers ride along
    # unused. The pair's order alternates by round, so a drift of the
    # machine's speed within a pair cancels out over the rounds.
    if ((round % 2)); then
      auth_line=$(run_wrk "$work/list-$kt-$round" /protected)
      control_line=$(run_wrk "$work/list-$kt-$round" "/verify-$kt")
    else
      control_line=$(run_wrk "$work/list-$kt-$round" "/verify-$kt")
      auth_line=$(run_wrk "$work/list-$kt-$round" /protected)
    fi
    runs[$kt]+="$auth_line"$'\n'
    control_cpu[$kt]+=" $(field "$control_line" cpu_us)"
    pair_control[$kt]+=" $(python3 -c "print('%.2f' % ($(field "$auth_line" cpu_us) - $(field "$control_line" cpu_us)))")"
    control_bad=$((control_bad + $(field "$control_line" non2xx)))
    # the next /open run uses the next list, which no /protected run has consumed yet
    if ((i + 1 < ${#key_types[@]})); then next_list="$work/list-${key_types[$((i + 1))]}-$round"
    elif ((round < rounds)); then next_list="$work/list-${key_types[0]}-$((round + 1))"
    else next_list="$work/list-$kt-$round"; fi
    next_open=$(run_wrk "$next_list" /open)
    open_runs+=("$next_open")
    pair_overheads[$kt]+=" $(python3 -c "a=$(field "$auth_line" rps); o=($(field "$prev_open" rps)+$(field "$next_open" rps))/2
print('%.2f' % ((1/a - 1/o) * $server_cores * 1e6))")"
    pair_cpu[$kt]+=" $(python3 -c "print('%.2f' % ($(field "$auth_line" cpu_us) - ($(field "$prev_open" cpu_us) + $(field "$next_open" cpu_us)) / 2))")"
    prev_open=$next_open
  done
done

median() { python3 -c 'import statistics, sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
spread() { python3 -c 'import sys; v = [float(x) for x in sys.argv[1:]]; print("%.0f-%.0f" % (min(v), max(v)))' "$@"; }
# quartiles VALUES...: "Q1-Q3" (the middle half of the values)
quartiles() { python3 -c 'import statistics, sys; q = statistics.quantiles([float(x) for x in sys.argv[1:]], n=4, method="inclusive"); print("%.1f-%.1f" % (q[0], q[2]))' "$@"; }
sum_field() { local t=0 l; while read -r l; do [[ -n "$l" ]] && t=$((t + $(field "$l" "$1"))); done; echo $t; }

open_rps=(); for l in "${open_runs[@]}"; do open_rps+=("$(field "$l" rps)"); done
rps_open=$(median "${open_rps[@]}")
open_cpus=(); for l in "${open_runs[@]}"; do open_cpus+=("$(field "$l" cpu_us)"); done
noauth_rps_us=$(python3 -c "print('%.1f' % ($server_cores / $rps_open * 1e6))")
noauth_us=$(median "${open_cpus[@]}")
results+=("no auth (/open)|$rps_open|-|$noauth_us|-|-|-|-|-|-|-|$(printf '%s\n' "${open_runs[@]}" | sum_field non2xx)|median of ${#open_rps[@]} runs, req/s $(spread "${open_rps[@]}"), CPU $(spread "${open_cpus[@]}") us; by req/s $noauth_rps_us us")

overhead() {   # rps_auth -> microseconds of server CPU per request
  python3 -c "print('%.1f' % ((1/$1 - 1/$rps_open) * $server_cores * 1e6))"
}
declare -A rps_median cpu_overhead
for kt in "${key_types[@]}"; do
  vals=(); p99s=()
  while read -r l; do [[ -n "$l" ]] && vals+=("$(field "$l" rps)") && p99s+=("$(field "$l" p99_us)"); done <<<"${runs[$kt]}"
  r=$(median "${vals[@]}")
  rps_median[$kt]=$r
  samples=$(while read -r l; do [[ -n "$l" ]] && field "$l" samples; done <<<"${runs[$kt]}" | grep -v '^-$' | head -1 || true)
  # overhead: median over rounds of (auth vs the /open runs around it)
  o=$(python3 -c "print('%.1f' % $(median ${pair_overheads[$kt]}))")
  oc=$(python3 -c "print('%.1f' % $(median ${pair_cpu[$kt]}))")
  cpus=(); while read -r l; do [[ -n "$l" ]] && cpus+=("$(field "$l" cpu_us)"); done <<<"${runs[$kt]}"
  f=${floor[${alg_of[$kt]}]}
  cpu_overhead[$kt]=$oc
  beyond=$(python3 -c "print('%.1f' % ($oc - $f))")
  pct=$(python3 -c "print('%.1f%%' % (($oc - $f) / $noauth_us * 100))")
  ctl=$(median ${control_cpu[$kt]})
  beyond_ctl=$(python3 -c "print('%.1f' % $(median ${pair_control[$kt]}))")
  pct_ctl=$(python3 -c "print('%.1f%%' % ($beyond_ctl / $noauth_us * 100))")
  results+=("$kt|$r|$o|$(median "${cpus[@]}")|$oc|$f|$beyond|$pct|$ctl|$beyond_ctl|$pct_ctl|$(sum_field non2xx <<<"${runs[$kt]}")|req/s $(spread "${vals[@]}"), overhead by CPU $(spread ${pair_cpu[$kt]}) us, by req/s $(spread ${pair_overheads[$kt]}) us, beyond control per round $(spread ${pair_control[$kt]}) us (middle half $(quartiles ${pair_control[$kt]})), p99 $(median "${p99s[@]}") us${samples:+; $samples}")
done

# In-situ split of one ed25519 run (perf, DWARF call graphs on the server's
# CPUs): the share of httpd's CPU spent in the module's authentication hook,
# in the library's ta_verify_request, and in ta_key_verify; times the run's
# CPU per request, the module's own cost beyond the verification inside the
# real server, without the throughput effects of the req/s comparison.
insitu=""
if [[ "${BENCH_PERF:-0}" == 1 ]] && command -v perf >/dev/null; then
  note "profiling one ed25519 run with perf"
  sign "$work/list-perf" bench-ed25519 "$work/ed25519.key" "$total" "$port"
  run_wrk "$work/list-perf" /protected > "$work/perf-run.txt" &
  wrk_pid=$!
  sleep 0.3
  perf record -q -C "$server_cpus" --call-graph dwarf,16384 -o "$work/perf.data" -- sleep 1.5 >/dev/null 2>&1 || true
  wait $wrk_pid || die "the profiled run failed"
  perf_cpu=$(field "$(cat "$work/perf-run.txt")" cpu_us)
  perf report -i "$work/perf.data" --comm apache2 --percentage relative --children --sort sym --stdio -g none 2>/dev/null \
    > "$work/perf.txt" || true
  share() { awk -v s="$1" '$NF == s {gsub("%", "", $1); print $1; exit}' "$work/perf.txt"; }
  hook=$(share ap_run_check_user_id) lib_all=$(share ta_verify_request) verify=$(share ta_key_verify)
  replay=$(share ta_mod_replay_record)
  if [[ -n "$hook" && -n "$verify" && -n "$lib_all" ]]; then
    insitu=$(python3 -c "
c = $perf_cpu; h, l, v, r = $hook, $lib_all, $verify, ${replay:-0}
print('in situ (perf, one ed25519 run, %.1f us of httpd CPU per request): authentication hook %.1f us, of which ta_key_verify %.1f us, the rest of ta_verify_request %.1f us, replay cache %.1f us, other module work %.1f us; hook beyond verify %.1f us = %.1f%% of the no-auth request cost'
      % (c, h * c / 100, v * c / 100, (l - v) * c / 100, r * c / 100, (h - l - r) * c / 100, (h - v) * c / 100, (h - v) * c / $noauth_us))
if v * c / 100 < 0.9 * ${floor[ed25519]}:
    print('  (indicative only: ta_key_verify got less than its measured floor of ${floor[ed25519]} us, so DWARF unwinding lost part of the call chains)')")
  else
    insitu="in situ: perf gave no usable call graph (hook '$hook', verify '$verify')"
  fi
fi

# One connection: no request ever waits for another, so the comparison is
# free of batching and queueing effects (each request pays its own wake-ups,
# on /open as on /protected). Three interleaved rounds, medians.
serial_row=""
if [[ "${BENCH_SERIAL:-1}" == 1 ]]; then
  note "one-connection runs (ed25519)"
  serial_n=$((requests / 2))
  serial_rounds=${BENCH_SERIAL_ROUNDS:-5}
  s_open=() s_auth=() s_ctl=()
  for round in $(seq 1 "$serial_rounds"); do
    sign "$work/list-serial-$round" bench-ed25519 "$work/ed25519.key" "$(per_thread_total "$serial_n")" "$port"
    s_open+=("$(conns=1 run_wrk "$work/list-serial-$round" /open | sed -n 's/.*cpu_us=\([^ ]*\).*/\1/p')")
    # control and /protected in alternating order, as above
    if ((round % 2)); then
      s_ctl+=("$(conns=1 run_wrk "$work/list-serial-$round" /verify-ed25519 | sed -n 's/.*cpu_us=\([^ ]*\).*/\1/p')")
      s_auth+=("$(conns=1 run_wrk "$work/list-serial-$round" /protected | sed -n 's/.*cpu_us=\([^ ]*\).*/\1/p')")
    else
      s_auth+=("$(conns=1 run_wrk "$work/list-serial-$round" /protected | sed -n 's/.*cpu_us=\([^ ]*\).*/\1/p')")
      s_ctl+=("$(conns=1 run_wrk "$work/list-serial-$round" /verify-ed25519 | sed -n 's/.*cpu_us=\([^ ]*\).*/\1/p')")
    fi
  done
  serial_row=$(python3 -c "
import statistics as st
o, c, a, f = [$(IFS=,; echo "${s_open[*]}")], [$(IFS=,; echo "${s_ctl[*]}")], [$(IFS=,; echo "${s_auth[*]}")], ${floor[ed25519]}
m = st.median
over = m([x - y for x, y in zip(a, o)]); beyond_ctl = [x - y for x, y in zip(a, c)]
print('one connection, ed25519 (CPU per response; medians over $serial_rounds interleaved rounds, differences paired per round): no auth %.1f us, control %.1f us, protected %.1f us; overhead %.1f us, beyond the verify floor %.1f us = %.1f%%, beyond the control %.1f us = %.1f%% of the no-auth cost (per round: %s us)' % (m(o), m(c), m(a), over, over - f, (over - f) / m(o) * 100, m(beyond_ctl), m(beyond_ctl) / m(o) * 100, ', '.join('%.1f' % d for d in beyond_ctl)))")
fi

# ---------------------------------------------------------------- 1b. instruction counts
# Deterministic where timing is not: valgrind's callgrind counts what one
# apache2 -X (same configuration, module and control) executes per request
# inside ap_process_async_request, for /open, each control and /protected,
# each path in its own process (a worker blocked in epoll never sees a
# callgrind_control request). Run as www-data from the start, so the
# profile written at exit belongs to the user apache2 writes it as.
# Instructions are not time (cache misses and SHA-NI/AVX-512 paths, which
# valgrind does not run, differ), but they move only with the code.
instr_table="" instr_top=""
if [[ "${BENCH_INSTRUCTIONS:-1}" == 1 ]]; then
  command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"
  note "instruction counts under callgrind (about 30 s per path)"
  cg="$work/callgrind"
  mkdir -p "$cg/run"
  cg_port=$(free_port)
  cg_n=${BENCH_INSTRUCTION_REQUESTS:-300}
  # a small replay table: valgrind pays for every page the start-up touches
  sed -e "s/^Listen 127.0.0.1:.*/Listen 127.0.0.1:$cg_port/" -e "s/^ServerName .*/ServerName 127.0.0.1:$cg_port/" \
      -e "s#^PidFile .*#PidFile \"$cg/httpd.pid\"#" -e "s#^ErrorLog .*#ErrorLog \"$cg/error.log\"#" \
      -e "s#^DefaultRuntimeDir .*#DefaultRuntimeDir \"$cg/run\"#" -e '/^User /d' -e '/^Group /d' \
      -e 's/^TrustedAppReplayCache .*/TrustedAppReplayCache table:16M/' "$main/httpd.conf" > "$cg/httpd.conf"
  chown -R www-data "$cg"
  cg_run() {   # cg_run PATH KEYTYPE: N requests signed with KEYTYPE's key on one connection, profiled
    local path=$1 kt=$2 name vpid out line
    name="$kt${path//\//-}"
    python3 "$bench/bench_data.py" sign --key "$work/$kt.key" --keyid "bench-$kt" --count $((cg_n + 10)) \
      --threads 1 --url "http://127.0.0.1:$cg_port/protected" "$cg/list-$name" >/dev/null || die "signing for callgrind"
    setpriv --reuid=www-data --regid=www-data --clear-groups valgrind --tool=callgrind \
      --toggle-collect=ap_process_async_request --callgrind-out-file="$cg/$name.out" \
      "$apache2" -X -d "$cg" -f "$cg/httpd.conf" >"$cg/$name.log" 2>&1 &
    vpid=$!
    for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$cg_port") 2>/dev/null && break; sleep 0.2; done
    out=$(BENCH_LIST="$cg/list-$name" BENCH_PATH=$path BENCH_SLACK=10 taskset -c "$client_cpus" \
          wrk -t1 -c1 -d600s --timeout 30s -s "$bench/walk.lua" "http://127.0.0.1:$cg_port" 2>&1) || die "wrk under callgrind: $out"
    kill -TERM $vpid; wait $vpid || true
    line=$(grep '^BENCH ' <<<"$out") || die "wrk printed no result under callgrind: $out"
    (($(field "$line" responses) == cg_n && $(field "$line" non2xx) == 0)) \
      || die "callgrind run of $path: $line (see $cg/error.log)"
  }
  cg_run /open ed25519
  cg_args=()
  for kt in "${key_types[@]}"; do
    cg_run "/verify-$kt" "$kt"
    cg_run /protected "$kt"
    cg_args+=("$kt" "$cg/$kt-verify-$kt.out" "$cg/$kt-protected.out")
  done
  instr_table=$(python3 "$bench/callgrind_summary.py" table "$cg_n" "$cg/ed25519-open.out" "${cg_args[@]}") \
    || die "callgrind_summary failed"
  instr_top=$(python3 "$bench/callgrind_summary.py" top "$cg_n" "$cg/ed25519-protected.out" "$cg/ed25519-verify-ed25519.out" 15) \
    || die "callgrind_summary failed"
fi

# ---------------------------------------------------------------- 2. soak
ed_rps=${rps_median[ed25519]}
soak_total=$(python3 -c "print(int($ed_rps * $soak_seconds * 1.6) + 2000)")
note "soak: ${soak_seconds}s of ed25519 ($soak_total pre-signed requests)"
sign "$work/list-soak" bench-ed25519 "$work/ed25519.key" "$(per_thread_total "$soak_total")" "$port"
rss_before=$(httpd_rss_kb)
pss_before=$(httpd_pss_kb)
table_before=$(httpd_shared_anon_kb)
soak=$(run_wrk "$work/list-soak" /protected "$soak_seconds")
sleep 1
rss_after=$(httpd_rss_kb)
pss_after=$(httpd_pss_kb)
table_after=$(httpd_shared_anon_kb)
soak_secs=$(field "$soak" seconds)
main_errors=$(error_lines "$main")
main_overflows=$(grep -c 'TA9003 .*replay cache' "$main/error.log" || true)
stop_httpd

# ---------------------------------------------------------------- 3. registry sizes
size_rows=()   # "apps|load_ms|lib_rss_kb|httpd_start_ms|httpd_rss_kb|httpd_pss_kb|rps_open|rps|overhead|non2xx"
for n in $sizes; do
  note "registry of $n applications"
  dir="$work/size-$n"
  port=$(free_port)
  write_conf "$dir" "$port"
  python3 "$bench/bench_data.py" registry --fillers $((n - 1)) \
    --app "bench-ed25519:ed25519:$work/ed25519.pub" "$dir/registry.xml" || die "registry of $n"
  read -r _ apps_loaded load_ms _cpu lib_rss _per < <("$work/bin/registry_load" "$dir/registry.xml") \
    || die "registry of $n applications does not load"
  start_httpd "$dir"
  size_rounds=${BENCH_SIZE_ROUNDS:-2}
  for round in $(seq 1 "$size_rounds"); do
    sign "$dir/list-$round" bench-ed25519 "$work/ed25519.key" "$total" "$port"
  done
  warm_up "$dir" "$port"
  opens=() auths=() cpu_diffs=() bad=0
  for round in $(seq 1 "$size_rounds"); do
    open=$(run_wrk "$dir/list-$round" /open)
    auth=$(run_wrk "$dir/list-$round" /protected)
    opens+=("$(field "$open" rps)") auths+=("$(field "$auth" rps)")
    cpu_diffs+=("$(python3 -c "print('%.2f' % ($(field "$auth" cpu_us) - $(field "$open" cpu_us)))")")
    bad=$((bad + $(field "$auth" non2xx) + $(field "$open" non2xx)))
  done
  rss=$(httpd_rss_kb)
  pss=$(httpd_pss_kb)
  rps_open=$(median "${opens[@]}")
  rps_auth=$(median "${auths[@]}")
  size_rows+=("$apps_loaded|$load_ms|$lib_rss|$start_ms|$rss|$pss|$rps_open|$rps_auth|$(overhead "$rps_auth")|$(python3 -c "print('%.1f' % $(median "${cpu_diffs[@]}"))")|$bad")
  stop_httpd
done

# ---------------------------------------------------------------- 4. one app, many patterns
note "one application with $patterns IP patterns and $patterns path prefixes"
dir="$work/patterns"
port=$(free_port)
write_conf "$dir" "$port"
python3 "$bench/bench_data.py" registry --fillers 10 --many-patterns "$patterns" \
  --app "bench-ed25519:ed25519:$work/ed25519.pub" "$dir/registry.xml" || die "patterns registry"
start_httpd "$dir"
sign "$dir/list" bench-ed25519 "$work/ed25519.key" "$total" "$port"
warm_up "$dir" "$port"
open=$(run_wrk "$dir/list" /open)
auth=$(run_wrk "$dir/list" /protected)
rps_open=$(field "$open" rps)
pattern_row="$rps_open|$(field "$auth" rps)|$(overhead "$(field "$auth" rps)")|$(field "$auth" non2xx)|$(python3 -c "print('%.1f' % ($(field "$auth" cpu_us) - $(field "$open" cpu_us)))")"
stop_httpd

# ---------------------------------------------------------------- report
echo
echo "mod_trustedapp benchmark  $(date -u +%Y-%m-%dT%H:%MZ)  $(uname -m), $ncpu CPUs: server $server_cpus, wrk $client_cpus"
echo "module: $so"
echo "$requests requests per run, $conns connections, $rounds round(s); overhead = (1/rps_auth - 1/rps_open) x $server_cores server core(s)"
echo
echo "end to end. CPU us/req: the server's CPU time (all httpd threads, schedstat) per response;"
echo "overhead: /protected minus the mean of the /open runs just before and after it, median over rounds"
echo "(by CPU time, and by req/s: (1/rps_auth - 1/rps_open) x server cores); beyond verify = CPU overhead - verify;"
echo "% no-auth = beyond verify / the no-auth CPU per request:"
printf '%-16s %7s %12s %11s %12s %9s %13s %9s %11s %14s %9s %7s  %s\n' "run" "req/s" "rps-overhead" "CPU us/req" "CPU overhead" "verify us" "beyond verify" "% no-auth" "control us" "beyond control" "% no-auth" "non-2xx" "notes"
for row in "${results[@]}"; do
  IFS='|' read -r label r o c oc f b pct ctl bctl pctl bad notes <<<"$row"
  printf '%-16s %7.0f %12s %11s %12s %9s %13s %9s %11s %14s %9s %7s  %s\n' "$label" "$r" "$o" "$c" "$oc" "$f" "$b" "$pct" "$ctl" "$bctl" "$pctl" "$bad" "$notes"
done
echo "control: /verify-<key type>, the same server and file with no authentication but one verification per"
echo "request (bench/mod_bench_verify.c: the same OpenSSL calls, distinct signatures, same request phase);"
echo "beyond control = /protected minus the control in the same round: what the module adds beyond the"
echo "verification itself, in the real server (control non-2xx: $control_bad)"
# The module runs the same code for every key type (the instruction counts
# below differ by RSA's longer signature only), so the pairs of all key types
# estimate one quantity: pooled, the median rests on three times the pairs.
all_pairs=""; for kt in "${key_types[@]}"; do all_pairs+=" ${pair_control[$kt]}"; done
python3 - "$noauth_us" $all_pairs <<'PY'
import statistics, sys
noauth, v = float(sys.argv[1]), [float(x) for x in sys.argv[2:]]
if len(v) >= 2:
    q = statistics.quantiles(v, n=4, method="inclusive")
    print("beyond control, all key types pooled (%d pairs): median %.1f us = %.1f%% of the no-auth cost, "
          "middle half %.1f-%.1f us, mean %.1f us" % (len(v), statistics.median(v),
          statistics.median(v) / noauth * 100, q[0], q[2], statistics.mean(v)))
PY
echo
echo "in process, one core, registry of 1,000 apps (ta_verify_request vs ta_key_verify over the same signature bases, ${BENCH_LIB_ROUNDS:-9} interleaved rounds, medians):"
printf '%-20s %14s %12s %14s %9s\n' "alg" "verify_request" "key_verify" "beyond verify" "% no-auth"
for kt in "${key_types[@]}"; do
  a=${alg_of[$kt]}
  printf '%-20s %14s %12s %14s %9s\n' "$a" "${lib_full[$a]} us" "${lib_floor[$a]} us" "${lib_beyond[$a]} us" \
    "$(python3 -c "print('%.1f%%' % (${lib_beyond[$a]} / $noauth_us * 100))")"
done
echo
[[ -n "$insitu" ]] && { echo "$insitu"; echo; }
echo "verify floor (one core): bare OpenSSL, contexts prepared once as in openssl speed, hashing included: $(for a in "${!floor[@]}"; do printf '%s %s us; ' "$a" "${floor[$a]}"; done)"
echo "  the module's call, ta_key_verify: $(for a in "${!key_verify_us[@]}"; do printf '%s %s us; ' "$a" "${key_verify_us[$a]}"; done)"
[[ -n "$serial_row" ]] && { echo; echo "$serial_row"; }
if [[ -n "$instr_table" ]]; then
  echo
  echo "instructions per request (valgrind callgrind, ${BENCH_INSTRUCTION_REQUESTS:-300} requests per path on one connection, inside"
  echo "ap_process_async_request; verify = the OpenSSL verification calls both make (EVP_DigestVerify, or"
  echo "EVP_Digest + EVP_PKEY_verify); beyond control = /protected's rest minus the control's rest: what the"
  echo "module executes beyond the verification):"
  echo "$instr_table"
  echo "largest differences, /protected minus control (ed25519; crypto left out):"
  echo "$instr_top"
fi
echo
echo "registry sizes (ed25519; overhead by req/s and by CPU time, medians of ${BENCH_SIZE_ROUNDS:-2} interleaved rounds;"
echo "httpd RSS/PSS include the module's 16 MiB replay table, committed at start-up):"
printf '%-8s %9s %12s %9s %14s %14s %11s %10s %13s %13s %8s\n' "apps" "load ms" "lib RSS KiB" "start ms" "httpd RSS KiB" "httpd PSS KiB" "open req/s" "req/s" "rps-overh us" "CPU overh us" "non-2xx"
for row in "${size_rows[@]}"; do
  IFS='|' read -r a l lr s hr hp ro r o oc bad <<<"$row"
  printf '%-8s %9s %12s %9s %14s %14s %11.0f %10.0f %13s %13s %8s\n' "$a" "$l" "$lr" "$s" "$hr" "$hp" "$ro" "$r" "$o" "$oc" "$bad"
done
if ((${#size_rows[@]} >= 2)); then
  IFS='|' read -r a1 l1 lr1 _ hr1 hp1 _ <<<"${size_rows[0]}"
  IFS='|' read -r a2 l2 lr2 _ hr2 hp2 _ <<<"${size_rows[${#size_rows[@]}-1]}"
  python3 -c "print('per application (marginal, %d -> %d apps): load %.1f us, library %.0f bytes, httpd PSS (all processes, shared pages counted once) %.0f bytes, httpd RSS summed over processes %.0f bytes'
               % ($a1, $a2, ($l2 - $l1) * 1000 / ($a2 - $a1), ($lr2 - $lr1) * 1024 / ($a2 - $a1), ($hp2 - $hp1) * 1024 / ($a2 - $a1), ($hr2 - $hr1) * 1024 / ($a2 - $a1)))"
fi
echo
IFS='|' read -r ro r o bad oc <<<"$pattern_row"
printf 'one app with %d IP patterns + %d path prefixes: %.0f req/s (open %.0f), overhead %s us by req/s, %s us by CPU, non-2xx %s\n' \
  "$patterns" "$patterns" "$r" "$ro" "$o" "$oc" "$bad"
echo
printf 'soak: %.1f s of ed25519, %s responses, non-2xx %s, socket errors %s; httpd RSS %d -> %d KiB (%+d KiB), PSS %d -> %d KiB (%+d KiB)\n' \
  "$soak_secs" "$(field "$soak" responses)" "$(field "$soak" non2xx)" "$(field "$soak" errors)" \
  "$rss_before" "$rss_after" $((rss_after - rss_before)) "$pss_before" "$pss_after" $((pss_after - pss_before))
printf '      of which the shared replay cache (committed at start-up): PSS %d -> %d KiB; the rest of PSS %+d KiB\n' \
  "$table_before" "$table_after" $(((pss_after - table_after) - (pss_before - table_before)))
python3 -c "import sys; sys.exit(0 if float('$soak_secs') >= $soak_seconds * 0.9 else 1)" \
  || echo "  (the pre-signed list ran out before ${soak_seconds}s: the server ran faster than in the ed25519 run)"
echo "error-log lines at error level or worse (main server): $main_errors"
echo "replay-cache overflow warnings (main server; 0 means every nonce of every run stayed in the cache): $main_overflows"

#!/usr/bin/env bash
# Where the module's time goes inside the real server (run by hand, as root,
# x86-64): builds this checkout (with its uncommitted changes) plus
# bench/timing.patch, which reads the time stamp counter at each step of
# check_authn and of the library's native verification, runs bench/compare.sh
# with that build on both of its servers, and prints each child's TIMING line:
# mean cycles per step over accepted requests (the key verification as a
# median; requests whose thread was preempted outside it are left out).
#
#   bench/timing.sh [ROUNDS] [REQUESTS]     (BENCH_CONNECTIONS as for compare.sh)
#
# Comparing two versions: apply the patch to each, build, and give both
# modules to bench/compare.sh. The patch follows the code: when git apply
# refuses it, refresh it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/ta-timing.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
git -C "$src" archive HEAD | tar -x -C "$tmp/src"
git -C "$src" diff HEAD | (cd "$tmp/src" && git apply --allow-empty)
(cd "$tmp/src" && git apply "$src/bench/timing.patch") \
  || { echo "timing: bench/timing.patch does not apply to this checkout; refresh it" >&2; exit 1; }
echo "timing: building the timing build in $tmp/build" >&2
"$tmp/src/scripts/build.sh" "$tmp/build" >"$tmp/build.log" 2>&1 \
  || { tail -30 "$tmp/build.log" >&2; echo "timing: the timing build failed" >&2; exit 1; }
so="$tmp/build/mod_trustedapp/.libs/mod_trustedapp.so"
"$src/bench/compare.sh" "$so" "$so" "${1:-4}" "${2:-12000}"

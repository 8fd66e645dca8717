#!/usr/bin/env bash
# Builds everything out of tree: scripts/build.sh BUILD_DIR [configure args...]
# Re-runs autoreconf/configure only when needed.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
shift || true
mkdir -p "$build"
build=$(cd "$build" && pwd)

# Several builds may share one source tree: regenerate under a lock.
exec 9>"$src/.autoreconf.lock"
flock 9
if [[ ! -x "$src/configure" || "$src/configure.ac" -nt "$src/configure" ]] \
   || find "$src" -name '*.mk' -newer "$src/configure" -not -path '*/build*' | grep -q . \
   || [[ "$src/Makefile.am" -nt "$src/configure" ]]; then
  (cd "$src" && autoreconf -fi >/dev/null)
fi
flock -u 9
stamp="$build/.configure-args"
args="$*"
if [[ ! -f "$build/Makefile" || ! -f "$stamp" || "$(cat "$stamp")" != "$args" || "$src/configure" -nt "$build/Makefile" ]]; then
  (cd "$build" && "$src/configure" -q "$@")
  echo "$args" > "$stamp"
fi
make -C "$build" -s -j"$(nproc)"

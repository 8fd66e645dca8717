#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time over its corpus:
#   tests/fuzz/run.sh BUILD_DIR SECONDS
# A crash fails the run; new inputs go to a scratch copy, the repo corpus stays as is.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
seconds=${2:-15}
shopt -s nullglob
targets=("$build"/tests/fuzz/fuzz_*)
if ((${#targets[@]} == 0)); then
  echo "fuzz: no targets built in $build/tests/fuzz" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  [[ -x "$target" && ! "$target" =~ \.(o|c)$ ]] || continue
  name=$(basename "$target"); name=${name#fuzz_}
  scratch=$(mktemp -d)
  corpus="$src/tests/fuzz/corpus/$name"
  [[ -d "$corpus" ]] && cp -r "$corpus"/. "$scratch"/
  echo "fuzz: $name (${seconds}s)"
  "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/fuzz-$name-" "$scratch" 2>"$build/fuzz-$name.log" \
    || { tail -40 "$build/fuzz-$name.log"; rm -rf "$scratch"; exit 1; }
  grep -E '^(#[0-9]+|Done)' "$build/fuzz-$name.log" | tail -1
  rm -rf "$scratch"
done

#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. warning-free build (-Wall -Wextra -Werror) + cmocka unit tests
#   2. AddressSanitizer+UBSan build + the unit tests again
#   3. integration tests: a real apache2 with the sanitized module
#   4. every libFuzzer target for a short run over its corpus (clang)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
"$src/scripts/deps.sh"

fuzz_seconds=${TA_FUZZ_SECONDS:-15}
build_root=${TA_BUILD_ROOT:-$src/build}

section() { printf '\n==== %s ====\n' "$*"; }

section "build (-Werror) and unit tests"
"$src/scripts/build.sh" "$build_root/release" --enable-werror
make -C "$build_root/release" -s check || { cat "$build_root"/release/tests/unit/*.log 2>/dev/null | tail -100; exit 1; }

section "AddressSanitizer + UBSan build and unit tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$src/scripts/build.sh" "$build_root/asan" --enable-werror --enable-sanitizers
make -C "$build_root/asan" -s check || { cat "$build_root"/asan/tests/unit/*.log 2>/dev/null | tail -100; exit 1; }

section "integration tests (real apache2, sanitized module)"
TA_BUILD_DIR="$build_root/asan" TA_SANITIZED=1 \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider "$src/tests/integration"

if command -v clang >/dev/null; then
  section "fuzz targets, ${fuzz_seconds}s each"
  CC=clang "$src/scripts/build.sh" "$build_root/fuzz" --enable-fuzzers
  "$src/tests/fuzz/run.sh" "$build_root/fuzz" "$fuzz_seconds"
fi
section "all test stages passed"

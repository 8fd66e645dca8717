# libFuzzer targets, built with --enable-fuzzers CC=clang. Components append.
if ENABLE_FUZZERS
FUZZ_COMPILE_FLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_LINK_FLAGS = -fsanitize=fuzzer,address,undefined
include tests/fuzz/targets.mk
endif

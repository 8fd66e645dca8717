# owned by the hardening engineer (included by tests/fuzz/targets.mk)
noinst_PROGRAMS += tests/fuzz/fuzz_verify tests/fuzz/fuzz_digest
tests_fuzz_fuzz_verify_SOURCES = tests/fuzz/fuzz_verify.c
tests_fuzz_fuzz_verify_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_verify_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_verify_LDADD = $(CORE_LIBS)
tests_fuzz_fuzz_digest_SOURCES = tests/fuzz/fuzz_digest.c
tests_fuzz_fuzz_digest_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_digest_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_digest_LDADD = $(CORE_LIBS)

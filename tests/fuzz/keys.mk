# owned by the keys component
noinst_PROGRAMS += tests/fuzz/fuzz_keys
tests_fuzz_fuzz_keys_SOURCES = tests/fuzz/fuzz_keys.c
tests_fuzz_fuzz_keys_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_keys_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_keys_LDADD = $(CORE_LIBS)

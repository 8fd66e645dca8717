# owned by the keys component
noinst_PROGRAMS += tests/fuzz/fuzz_keys
tests_fuzz_fuzz_keys_SOURCES = tests/fuzz/fuzz_keys.c
tests_fuzz_fuzz_keys_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_keys_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_keys_LDADD = $(CORE_LIBS)

noinst_PROGRAMS += tests/fuzz/fuzz_certdoc
tests_fuzz_fuzz_certdoc_SOURCES = tests/fuzz/fuzz_certdoc.c
tests_fuzz_fuzz_certdoc_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_certdoc_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_certdoc_LDADD = $(CORE_LIBS)

# owned by the seraph component
noinst_PROGRAMS += tests/fuzz/fuzz_seraph
tests_fuzz_fuzz_seraph_SOURCES = tests/fuzz/fuzz_seraph.c
tests_fuzz_fuzz_seraph_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_seraph_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_seraph_LDADD = $(CORE_LIBS)

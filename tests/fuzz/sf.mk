# owned by the sf component
noinst_PROGRAMS += tests/fuzz/fuzz_sf
tests_fuzz_fuzz_sf_SOURCES = tests/fuzz/fuzz_sf.c
tests_fuzz_fuzz_sf_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_sf_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_sf_LDADD = $(CORE_LIBS)

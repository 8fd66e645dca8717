# owned by the sig component
noinst_PROGRAMS += tests/fuzz/fuzz_siginput
tests_fuzz_fuzz_siginput_SOURCES = tests/fuzz/fuzz_siginput.c
tests_fuzz_fuzz_siginput_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_siginput_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_siginput_LDADD = $(CORE_LIBS)

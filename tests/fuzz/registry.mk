# owned by the registry component
noinst_PROGRAMS += tests/fuzz/fuzz_registry
tests_fuzz_fuzz_registry_SOURCES = tests/fuzz/fuzz_registry.c
tests_fuzz_fuzz_registry_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_registry_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_registry_LDADD = $(CORE_LIBS)

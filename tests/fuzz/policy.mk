# owned by the policy component
noinst_PROGRAMS += tests/fuzz/fuzz_ip tests/fuzz/fuzz_path tests/fuzz/fuzz_forwarded
tests_fuzz_fuzz_ip_SOURCES = tests/fuzz/fuzz_ip.c
tests_fuzz_fuzz_ip_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_ip_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ip_LDADD = $(CORE_LIBS)
tests_fuzz_fuzz_path_SOURCES = tests/fuzz/fuzz_path.c
tests_fuzz_fuzz_path_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_path_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_path_LDADD = $(CORE_LIBS)
tests_fuzz_fuzz_forwarded_SOURCES = tests/fuzz/fuzz_forwarded.c
tests_fuzz_fuzz_forwarded_CFLAGS = $(FUZZ_COMPILE_FLAGS)
tests_fuzz_fuzz_forwarded_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_forwarded_LDADD = $(CORE_LIBS)

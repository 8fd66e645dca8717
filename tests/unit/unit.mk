# cmocka unit tests, run by `make check`. Components add their own fragment.
if HAVE_CMOCKA
UNIT_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) -DTA_SHARED_DIR='"$(abs_top_srcdir)/../shared"' -DTA_SRCDIR='"$(abs_top_srcdir)"'
UNIT_TEST_LIBS = $(CORE_LIBS) $(CMOCKA_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/test_error
tests_unit_test_error_SOURCES = tests/unit/test_error.c
tests_unit_test_error_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_error_LDADD = $(UNIT_TEST_LIBS)
EXTRA_DIST += tests/unit/test_pool.h tests/unit/test_rng.h tests/unit/test_tool_fixture.h

include tests/unit/sf.mk
include tests/unit/keys.mk
include tests/unit/sig.mk
include tests/unit/policy.mk
include tests/unit/registry.mk
include tests/unit/seraph.mk
include tests/unit/verify.mk
include tests/unit/replay_table.mk
include tests/unit/tool.mk
TESTS += $(check_PROGRAMS)
endif

# owned by the seraph component
check_PROGRAMS += tests/unit/test_rc4
tests_unit_test_rc4_SOURCES = tests/unit/test_rc4.c
tests_unit_test_rc4_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_rc4_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_seraph
tests_unit_test_seraph_SOURCES = tests/unit/test_seraph.c
tests_unit_test_seraph_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_seraph_LDADD = $(UNIT_TEST_LIBS)

# owned by the verify component (policy engineer)
check_PROGRAMS += tests/unit/test_verify
tests_unit_test_verify_SOURCES = tests/unit/test_verify.c
tests_unit_test_verify_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_verify_LDADD = $(UNIT_TEST_LIBS)

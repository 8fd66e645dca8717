# owned by the sig component
check_PROGRAMS += tests/unit/test_httpsig
tests_unit_test_httpsig_SOURCES = tests/unit/test_httpsig.c
tests_unit_test_httpsig_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_httpsig_LDADD = $(UNIT_TEST_LIBS)
check_PROGRAMS += tests/unit/test_sigbase
tests_unit_test_sigbase_SOURCES = tests/unit/test_sigbase.c
tests_unit_test_sigbase_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_sigbase_LDADD = $(UNIT_TEST_LIBS)
check_PROGRAMS += tests/unit/test_msg_text
tests_unit_test_msg_text_SOURCES = tests/unit/test_msg_text.c
tests_unit_test_msg_text_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_msg_text_LDADD = $(UNIT_TEST_LIBS)

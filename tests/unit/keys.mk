# owned by the keys component
check_PROGRAMS += tests/unit/test_b64
tests_unit_test_b64_SOURCES = tests/unit/test_b64.c
tests_unit_test_b64_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_b64_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_digest
tests_unit_test_digest_SOURCES = tests/unit/test_digest.c
tests_unit_test_digest_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_digest_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_keys
tests_unit_test_keys_SOURCES = tests/unit/test_keys.c
tests_unit_test_keys_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_keys_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_certdoc
tests_unit_test_certdoc_SOURCES = tests/unit/test_certdoc.c
tests_unit_test_certdoc_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_certdoc_LDADD = $(UNIT_TEST_LIBS)

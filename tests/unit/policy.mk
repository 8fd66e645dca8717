# owned by the policy component
check_PROGRAMS += tests/unit/test_ip tests/unit/test_forwarded tests/unit/test_path tests/unit/test_users
tests_unit_test_ip_SOURCES = tests/unit/test_ip.c
tests_unit_test_ip_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_ip_LDADD = $(UNIT_TEST_LIBS)
tests_unit_test_forwarded_SOURCES = tests/unit/test_forwarded.c
tests_unit_test_forwarded_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_forwarded_LDADD = $(UNIT_TEST_LIBS)
tests_unit_test_path_SOURCES = tests/unit/test_path.c
tests_unit_test_path_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_path_LDADD = $(UNIT_TEST_LIBS)
tests_unit_test_users_SOURCES = tests/unit/test_users.c
tests_unit_test_users_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_users_LDADD = $(UNIT_TEST_LIBS)

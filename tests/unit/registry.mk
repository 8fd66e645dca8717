# owned by the registry component
check_PROGRAMS += tests/unit/test_registry
tests_unit_test_registry_SOURCES = tests/unit/test_registry.c
tests_unit_test_registry_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_registry_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_registry_write
tests_unit_test_registry_write_SOURCES = tests/unit/test_registry_write.c
tests_unit_test_registry_write_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_registry_write_LDADD = $(UNIT_TEST_LIBS)

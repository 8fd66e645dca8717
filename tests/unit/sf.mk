# owned by the sf component
check_PROGRAMS += tests/unit/test_sf
tests_unit_test_sf_SOURCES = tests/unit/test_sf.c
tests_unit_test_sf_CFLAGS = $(UNIT_TEST_CFLAGS)
tests_unit_test_sf_LDADD = $(UNIT_TEST_LIBS)

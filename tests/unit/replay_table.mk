# owned by the replay-table tests: the module's built-in nonce table is plain
# APR, so its source is compiled straight into the test program.
check_PROGRAMS += tests/unit/test_replay_table
tests_unit_test_replay_table_SOURCES = tests/unit/test_replay_table.c \
	mod_trustedapp/ta_mod_replay_table.c mod_trustedapp/ta_mod_replay_table.h
tests_unit_test_replay_table_CFLAGS = $(UNIT_TEST_CFLAGS) -I$(top_srcdir)/mod_trustedapp
tests_unit_test_replay_table_LDADD = $(UNIT_TEST_LIBS)

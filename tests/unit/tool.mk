# owned by the tool unit tests: trustapp-admin's own logic, without network or httpd
check_PROGRAMS += tests/unit/test_tool_cli
tests_unit_test_tool_cli_SOURCES = tests/unit/test_tool_cli.c tools/ta_cli.c tools/ta_cli_out.c
tests_unit_test_tool_cli_CFLAGS = $(UNIT_TEST_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_cli_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_tool_tls_diag
tests_unit_test_tool_tls_diag_SOURCES = tests/unit/test_tool_tls_diag.c tools/ta_tls_diag.c
tests_unit_test_tool_tls_diag_CFLAGS = $(UNIT_TEST_CFLAGS) $(LIBCURL_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_tls_diag_LDADD = $(UNIT_TEST_LIBS) $(LIBCURL_LIBS)

# cmd_registry.c's add --url path lives in cmd_certdoc.c over ta_http.c; linked, never reached
check_PROGRAMS += tests/unit/test_tool_regcmd
tests_unit_test_tool_regcmd_SOURCES = tests/unit/test_tool_regcmd.c tools/cmd_registry.c tools/cmd_certdoc.c \
  tools/ta_http.c tools/ta_tls_diag.c tools/ta_cli.c tools/ta_cli_out.c
tests_unit_test_tool_regcmd_CFLAGS = $(UNIT_TEST_CFLAGS) $(LIBCURL_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_regcmd_LDADD = $(UNIT_TEST_LIBS) $(LIBCURL_LIBS)

check_PROGRAMS += tests/unit/test_tool_sign
tests_unit_test_tool_sign_SOURCES = tests/unit/test_tool_sign.c tools/cmd_sign.c tools/ta_cli.c tools/ta_cli_out.c
tests_unit_test_tool_sign_CFLAGS = $(UNIT_TEST_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_sign_LDADD = $(UNIT_TEST_LIBS)

check_PROGRAMS += tests/unit/test_tool_keygen
tests_unit_test_tool_keygen_SOURCES = tests/unit/test_tool_keygen.c tools/cmd_keys.c tools/ta_cli.c tools/ta_cli_out.c
tests_unit_test_tool_keygen_CFLAGS = $(UNIT_TEST_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_keygen_LDADD = $(UNIT_TEST_LIBS)

# ta_http_perform's decisions without a server (a closed loopback port at most)
check_PROGRAMS += tests/unit/test_tool_http
tests_unit_test_tool_http_SOURCES = tests/unit/test_tool_http.c tools/ta_http.c tools/ta_tls_diag.c \
  tools/ta_cli.c tools/ta_cli_out.c
tests_unit_test_tool_http_CFLAGS = $(UNIT_TEST_CFLAGS) $(LIBCURL_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_tool_http_LDADD = $(UNIT_TEST_LIBS) $(LIBCURL_LIBS)

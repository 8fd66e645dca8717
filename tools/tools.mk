# trustapp-admin: registry management and diagnosis CLI.
bin_PROGRAMS += tools/trustapp-admin
tools_trustapp_admin_SOURCES = tools/trustapp-admin.c tools/ta_cli.c tools/ta_cli.h \
  tools/ta_cli_out.c tools/ta_http.c tools/ta_http.h tools/ta_tls_diag.c tools/ta_tls_diag.h \
  tools/cmd_tls.c tools/cmd_keys.c \
  tools/cmd_registry.c tools/ta_regcmd.h tools/cmd_certdoc.c \
  tools/cmd_sign.c tools/cmd_request.c tools/ta_sign.h
tools_trustapp_admin_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(JANSSON_CFLAGS)
tools_trustapp_admin_LDADD = $(CORE_LIBS) $(LIBCURL_LIBS) $(JANSSON_LIBS)

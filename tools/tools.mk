# trustapp-admin: registry management and diagnosis CLI.
bin_PROGRAMS += tools/trustapp-admin
tools_trustapp_admin_SOURCES = tools/trustapp-admin.c
tools_trustapp_admin_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(JANSSON_CFLAGS)
tools_trustapp_admin_LDADD = $(CORE_LIBS) $(LIBCURL_LIBS) $(JANSSON_LIBS)

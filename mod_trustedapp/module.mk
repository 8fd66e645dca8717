# mod_trustedapp.so: thin httpd glue over libtrustedapp, built as a libtool
# module against the httpd that apxs describes and installed into its LIBEXECDIR.
moddir = $(HTTPD_LIBEXECDIR)
mod_LTLIBRARIES = mod_trustedapp/mod_trustedapp.la
mod_trustedapp_mod_trustedapp_la_SOURCES = mod_trustedapp/mod_trustedapp.c mod_trustedapp/mod_trustedapp.h \
	mod_trustedapp/ta_mod_config.c mod_trustedapp/ta_mod_request.c mod_trustedapp/ta_mod_replay.c \
	mod_trustedapp/ta_mod_registry.c mod_trustedapp/ta_mod_authz.c mod_trustedapp/ta_mod_response.c \
	mod_trustedapp/ta_mod_certdoc.c mod_trustedapp/ta_mod_body.c mod_trustedapp/ta_mod_tls.c \
	mod_trustedapp/ta_mod_replay_table.c mod_trustedapp/ta_mod_replay_table.h
mod_trustedapp_mod_trustedapp_la_CPPFLAGS = $(AM_CPPFLAGS) $(HTTPD_CPPFLAGS)
mod_trustedapp_mod_trustedapp_la_CFLAGS = $(AM_CFLAGS)
mod_trustedapp_mod_trustedapp_la_LDFLAGS = -module -avoid-version -shared $(AM_LDFLAGS)
mod_trustedapp_mod_trustedapp_la_LIBADD = lib/libtrustedapp.la $(OPENSSL_LIBS) $(LIBXML2_LIBS) $(JANSSON_LIBS)

# Tests load the module from the build tree: .libs/mod_trustedapp.so.
all-local: mod_trustedapp/mod_trustedapp.so
# A new file renamed into place, never rewritten in place: an apache2 still
# running from the build tree has the old file mapped, and overwriting its
# pages made that server crash when it next ran module code (at stop).
mod_trustedapp/mod_trustedapp.so: mod_trustedapp/mod_trustedapp.la
	$(AM_V_GEN)cp mod_trustedapp/.libs/mod_trustedapp.so $@.tmp && mv -f $@.tmp $@
CLEANFILES += mod_trustedapp/mod_trustedapp.so
# libtool also drops a .la into LIBEXECDIR; httpd only needs the .so.
install-data-hook:
	rm -f $(DESTDIR)$(moddir)/mod_trustedapp.la

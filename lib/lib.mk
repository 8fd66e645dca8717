# libtrustedapp: the core, no httpd headers. One line per concern.
lib_libtrustedapp_la_SOURCES += lib/ta_error.c lib/ta_error.h lib/ta_msg.c lib/ta_msg.h lib/ta_sf.h
include lib/sf.mk
include lib/keys.mk
include lib/sig.mk
include lib/policy.mk
include lib/registry.mk
include lib/seraph.mk
include lib/verify.mk

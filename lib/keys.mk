# owned by the keys component
EXTRA_DIST += lib/ta_keys.h
lib_libtrustedapp_la_SOURCES += lib/ta_b64.c lib/ta_b64.h
lib_libtrustedapp_la_SOURCES += lib/ta_digest.c lib/ta_digest.h

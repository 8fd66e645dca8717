# owned by the keys component
lib_libtrustedapp_la_SOURCES += lib/ta_b64.c lib/ta_b64.h
lib_libtrustedapp_la_SOURCES += lib/ta_digest.c lib/ta_digest.h
lib_libtrustedapp_la_SOURCES += lib/ta_keys.c lib/ta_keys.h lib/ta_keys_jwk.c lib/ta_keys_jwk.h
lib_libtrustedapp_la_SOURCES += lib/ta_certdoc.c lib/ta_certdoc.h

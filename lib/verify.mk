# owned by the policy component: the policy engine (protocol-neutral decision)
lib_libtrustedapp_la_SOURCES += lib/ta_verify.c lib/ta_verify.h lib/ta_verify_int.h
lib_libtrustedapp_la_SOURCES += lib/ta_verify_native.c lib/ta_verify_seraph.c

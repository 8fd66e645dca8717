# owned by the sig component: RFC 9421 signatures and raw message text
lib_libtrustedapp_la_SOURCES += lib/ta_sigbase.c lib/ta_sigbase.h
lib_libtrustedapp_la_SOURCES += lib/ta_httpsig.c lib/ta_httpsig.h
lib_libtrustedapp_la_SOURCES += lib/ta_msg_text.c lib/ta_msg_text.h

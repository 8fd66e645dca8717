# owned by the seraph component: legacy Atlassian Seraph trusted-apps protocol
lib_libtrustedapp_la_SOURCES += lib/ta_rc4.c lib/ta_rc4.h
lib_libtrustedapp_la_SOURCES += lib/ta_seraph_codec.c lib/ta_seraph_codec.h lib/ta_seraph_certdoc.c
lib_libtrustedapp_la_SOURCES += lib/ta_seraph.c lib/ta_seraph.h

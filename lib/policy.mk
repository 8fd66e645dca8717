# owned by the policy component: client address, forwarded chain, path and user rules
lib_libtrustedapp_la_SOURCES += lib/ta_ip.c lib/ta_ip.h lib/ta_forwarded.c lib/ta_forwarded.h
lib_libtrustedapp_la_SOURCES += lib/ta_path.c lib/ta_path.h lib/ta_users.c lib/ta_users.h

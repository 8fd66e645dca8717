# owned by the sf component
lib_libtrustedapp_la_SOURCES += lib/ta_sf.c

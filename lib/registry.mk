# owned by the registry component
lib_libtrustedapp_la_SOURCES += lib/ta_registry.c lib/ta_registry.h \
	lib/ta_registry_xsd.c lib/ta_registry_write.c lib/ta_registry_write.h
dist_pkgdata_DATA += lib/registry.xsd

# The schema is embedded from its single source, lib/registry.xsd.
lib/registry_xsd.inc: $(top_srcdir)/lib/registry.xsd
	$(AM_V_GEN)$(MKDIR_P) lib && \
	od -An -v -tx1 $(top_srcdir)/lib/registry.xsd | \
	  sed -e 's/[0-9a-f][0-9a-f]/0x&,/g' > $@.tmp && \
	echo '0x00' >> $@.tmp && mv $@.tmp $@
# (named through a variable so automake keeps its own rule for the object)
registry_xsd_objects = lib/libtrustedapp_la-ta_registry_xsd.lo
$(registry_xsd_objects): lib/registry_xsd.inc
CLEANFILES += lib/registry_xsd.inc lib/registry_xsd.inc.tmp

# Shipped with the sources: the example (loaded by tests/unit/test_registry),
# the format documentation and the fuzz seeds.
EXTRA_DIST += conf-examples/registry.xml docs/REGISTRY.md tests/fuzz/corpus/registry

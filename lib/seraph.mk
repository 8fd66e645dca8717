# owned by the seraph component
EXTRA_DIST += lib/ta_seraph.h lib/ta_seraph_codec.h lib/ta_rc4.h

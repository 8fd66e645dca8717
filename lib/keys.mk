# owned by the keys component
EXTRA_DIST += lib/ta_keys.h

EXTRA_DIST += lib/ta_verify.h

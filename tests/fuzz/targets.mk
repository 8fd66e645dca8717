# one fragment per component
include tests/fuzz/sf.mk
include tests/fuzz/keys.mk
include tests/fuzz/sig.mk
include tests/fuzz/policy.mk
include tests/fuzz/registry.mk
include tests/fuzz/seraph.mk
include tests/fuzz/hardening.mk

/* Which users an application may act for. */
#ifndef TA_USERS_H
#define TA_USERS_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

#define TA_USER_MAX_LEN 256

typedef struct ta_user_rules ta_user_rules_t;

/* allow: NULL/empty = any user not denied; deny entries always win; built-in
 * deny of root, admin, administrator (case-insensitive) unless explicitly
 * named in allow (exactly, not through a wildcard). Entries: exact names or
 * a trailing '*' prefix wildcard ("svc-*"); a lone "*" in allow means any.
 * Names compare case-sensitively, except the built-in denials.
 * TA_E_CONFIG with *err naming a bad entry (empty, control chars, '*' not
 * trailing). */
ta_status_t ta_user_rules_parse(apr_pool_t *p, const char *const *allow, size_t n_allow,
                                const char *const *deny, size_t n_deny,
                                ta_user_rules_t **out, const char **err);
/* TA_OK, TA_E_USER_DENIED, or TA_E_USER_INVALID (NULL, empty, > 256 bytes,
 * control chars, invalid UTF-8). NULL rules: only the built-in denials. */
ta_status_t ta_user_check(const ta_user_rules_t *rules, const char *user);

#endif

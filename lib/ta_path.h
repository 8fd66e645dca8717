/* Path policy: normalisation of the raw request path and prefix sets
 * matched on segment boundaries. Normalisation is the defence against
 * "/rest/../admin", "//admin", "%2e%2e", "%2f", "%5c" and ";jsessionid"
 * tricks; it decodes exactly once, so "%252e" becomes the literal text
 * "%2e" and is never decoded again. */
#ifndef TA_PATH_H
#define TA_PATH_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

#define TA_PATH_MAX_INPUT 8192

typedef struct ta_path_set ta_path_set_t;

/* Normalise a raw request path (must start with '/'): percent-decode once,
 * refuse encoded '/', '\\', NUL, control chars and invalid %-escapes
 * (TA_E_PATH_NOT_ALLOWED), strip ';params' of each segment, collapse '//',
 * resolve '.' and '..' (above root is refused). A decoded byte that is not
 * an unreserved character is re-encoded as upper-case %XX so the output is
 * canonical and a second decode by anyone yields the same path. A trailing
 * '/' is kept ("/a/" stays "/a/", "/a/." becomes "/a/").
 * *out may be raw_path itself (nothing allocated) when raw_path is already
 * canonical; otherwise it is allocated from p. Either way it lives as long
 * as the shorter of raw_path and p. */
ta_status_t ta_path_normalize(apr_pool_t *p, const char *raw_path, const char **out);

/* Prefixes must start with '/'; they are normalised like paths (a trailing
 * '/' is dropped, except for "/"). TA_E_CONFIG with *err naming the bad one. */
ta_status_t ta_path_set_parse(apr_pool_t *p, const char *const *prefixes, size_t n,
                              ta_path_set_t **out, const char **err);
/* Segment boundaries: /rest allows /rest and /rest/x, not /restricted;
 * "/" allows all. NULL set never matches. */
int ta_path_set_match(const ta_path_set_t *s, const char *normalized_path);
/* Seraph compat: raw startsWith against the prefixes as written. */
int ta_path_set_match_raw(const ta_path_set_t *s, const char *raw_path);
size_t ta_path_set_count(const ta_path_set_t *s);

#endif

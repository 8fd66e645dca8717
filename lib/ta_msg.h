/* The protocol-neutral view of an HTTP message that every verifier and
 * signer works on. The module builds it from request_rec; tests and the
 * tool build it from raw text. Nothing here points into httpd. */
#ifndef TA_MSG_H
#define TA_MSG_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct {
  const char *name;   /* as received; compared case-insensitively */
  const char *value;  /* one field line, OWS already trimmed */
} ta_field_t;

typedef struct ta_msg ta_msg_t;
struct ta_msg {
  int is_response;
  int status;                   /* responses */
  /* request (for a response: of the related request, via .request) */
  const char *method;           /* "POST", case preserved */
  const char *scheme;           /* "http" / "https", lower case */
  const char *authority;        /* host[:port] as the server is reached, lower case, default port dropped */
  const char *path;             /* raw path as received (percent-encoding untouched), "/" if empty */
  const char *query;            /* raw query without '?', NULL when the target had none */
  const char *target;           /* raw request-target as received (origin, absolute or asterisk
                                   form), for @request-target; NULL: path [+ "?" query] */
  apr_array_header_t *fields;   /* ta_field_t, in received order, several lines per name allowed */
  const ta_msg_t *request;      /* for a response: the related request (for ;req), else NULL */
};

/* Helpers shared by every component. */
ta_msg_t *ta_msg_make(apr_pool_t *p);
/* The same with room for n_fields field lines before the array grows. */
ta_msg_t *ta_msg_make_sized(apr_pool_t *p, int n_fields);
void ta_msg_add_field(ta_msg_t *m, const char *name, const char *value);
/* Combined value of all field lines with this name, joined by ", " per
 * RFC 9110 5.3; NULL when absent. */
const char *ta_msg_field(apr_pool_t *p, const ta_msg_t *m, const char *name);
/* Number of field lines with this name. */
int ta_msg_field_count(const ta_msg_t *m, const char *name);
/* Whether there is one (stops at the first). */
int ta_msg_has_field(const ta_msg_t *m, const char *name);
/* Both at once, in one pass: the combined value (NULL when absent) and,
 * when count is not NULL, the number of field lines. */
const char *ta_msg_field_lines(apr_pool_t *p, const ta_msg_t *m, const char *name, int *count);
/* Field names are tokens (RFC 9110 5.1): ASCII case-insensitive equality,
 * the comparison every lookup above uses. */
int ta_msg_name_eq(const char *a, const char *b);

#endif

/* RFC 8941 (and RFC 9651 Date / Display String) structured fields:
 * strict parser and canonical serializer. All memory comes from the pool
 * given; parsed strings are NUL-terminated copies (byte sequences are
 * decoded bytes, with len). Inputs longer than TA_SF_MAX_INPUT are refused. */
#ifndef TA_SF_H
#define TA_SF_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

#include "ta_error.h"

#define TA_SF_MAX_INPUT (64 * 1024)

typedef enum {
  TA_SF_INTEGER,        /* v.integer, |v| <= 999999999999999 */
  TA_SF_DECIMAL,        /* v.decimal_milli: value * 1000, exact */
  TA_SF_STRING,         /* v.str (ASCII printable) */
  TA_SF_TOKEN,          /* v.str */
  TA_SF_BYTES,          /* v.str (decoded bytes, may contain NUL) */
  TA_SF_BOOLEAN,        /* v.boolean */
  TA_SF_DATE,           /* v.integer (seconds) */
  TA_SF_DISPLAY_STRING  /* v.str (UTF-8) */
} ta_sf_type_t;

typedef struct {
  ta_sf_type_t type;
  union {
    int64_t integer;
    int64_t decimal_milli;
    int boolean;
    struct { const char *ptr; size_t len; } str;
  } v;
} ta_sf_bare_t;

typedef struct {
  const char *key;
  ta_sf_bare_t value;
} ta_sf_param_t;

typedef struct {
  ta_sf_param_t *items;
  size_t n;
} ta_sf_params_t;

typedef struct {
  ta_sf_bare_t bare;
  ta_sf_params_t params;
} ta_sf_item_t;

/* A list or dictionary member: an item, or an inner list with parameters. */
typedef struct {
  int is_inner_list;
  ta_sf_item_t item;          /* when !is_inner_list */
  ta_sf_item_t *inner;        /* when is_inner_list */
  size_t n_inner;
  ta_sf_params_t params;      /* the inner list's own parameters */
} ta_sf_member_t;

typedef struct {
  ta_sf_member_t *members;
  size_t n;
} ta_sf_list_t;

typedef struct {
  const char **keys;          /* keys[i] names members[i]; unique (last wins) */
  ta_sf_member_t *members;
  size_t n;
} ta_sf_dict_t;

/* Parsers return TA_OK or TA_E_SF_PARSE (TA_E_TOO_LARGE past the limit). */
ta_status_t ta_sf_parse_item(apr_pool_t *p, const char *in, size_t len, ta_sf_item_t *out);
ta_status_t ta_sf_parse_list(apr_pool_t *p, const char *in, size_t len, ta_sf_list_t *out);
ta_status_t ta_sf_parse_dict(apr_pool_t *p, const char *in, size_t len, ta_sf_dict_t *out);

/* Canonical serialization; NULL when the value cannot be serialized
 * (out-of-range number, bad key/token characters, ...). */
char *ta_sf_serialize_bare(apr_pool_t *p, const ta_sf_bare_t *b);
char *ta_sf_serialize_params(apr_pool_t *p, const ta_sf_params_t *params);
char *ta_sf_serialize_item(apr_pool_t *p, const ta_sf_item_t *item);
char *ta_sf_serialize_member(apr_pool_t *p, const ta_sf_member_t *m);
char *ta_sf_serialize_list(apr_pool_t *p, const ta_sf_list_t *l);
char *ta_sf_serialize_dict(apr_pool_t *p, const ta_sf_dict_t *d);

/* Lookups; NULL when absent. */
const ta_sf_bare_t *ta_sf_param_get(const ta_sf_params_t *params, const char *key);
const ta_sf_member_t *ta_sf_dict_get(const ta_sf_dict_t *d, const char *key);

#endif

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
/* Parse-time bounds (the RFC 8941 section 3 minimums a parser must support);
 * a field with more unique members/params than this is refused. */
#define TA_SF_MAX_MEMBERS 1024   /* list members, dictionary members */
#define TA_SF_MAX_INNER   256    /* items of one inner list */
#define TA_SF_MAX_PARAMS  256    /* parameters of one item or inner list */
/* Largest |integer| (also Date seconds) and |decimal_milli|. */
#define TA_SF_MAX_INTEGER 999999999999999LL

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
  /* Parser output: when the parameters' text in the input is already their
   * canonical serialization (single ';' without spaces, no repeated key,
   * only strings, tokens, integers without leading zeros, ?0 and bare
   * true), that text: a span of the input, not NUL-terminated, valid as
   * long as the input. Else NULL (also for parameters built by hand). */
  const char *canonical;
  size_t canonical_len;
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
 * (out-of-range number, bad key/token characters, string outside printable
 * ASCII, display string not valid UTF-8, boolean other than 0/1, ...).
 * Strings are taken as (ptr, len). An empty list or dictionary serializes
 * to "" (RFC 8941: the field is then not sent at all). */
char *ta_sf_serialize_bare(apr_pool_t *p, const ta_sf_bare_t *b);
char *ta_sf_serialize_params(apr_pool_t *p, const ta_sf_params_t *params);
char *ta_sf_serialize_item(apr_pool_t *p, const ta_sf_item_t *item);
char *ta_sf_serialize_member(apr_pool_t *p, const ta_sf_member_t *m);
char *ta_sf_serialize_list(apr_pool_t *p, const ta_sf_list_t *l);
char *ta_sf_serialize_dict(apr_pool_t *p, const ta_sf_dict_t *d);

/* Converts a binary double to decimal_milli the way RFC 8941 4.1.5 serializes
 * it: the shortest decimal that round-trips the double, rounded to three
 * fraction digits, ties to even (0.0025 -> 2). TA_E_SF_PARSE when not finite
 * or |d| >= 1e15 (the serializer refuses more than 12 integer digits). */
ta_status_t ta_sf_decimal_from_double(double d, int64_t *milli_out);

/* Lookups; NULL when absent. */
const ta_sf_bare_t *ta_sf_param_get(const ta_sf_params_t *params, const char *key);
const ta_sf_member_t *ta_sf_dict_get(const ta_sf_dict_t *d, const char *key);

#endif

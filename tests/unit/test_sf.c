/* RFC 8941/9651 structured fields against the public httpwg test suite
 * (TA_SHARED_DIR/reference/structured-field-tests), plus the bounds and
 * helpers the suite does not reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ta_sf.h"

#define SUITE_DIR TA_SHARED_DIR "/reference/structured-field-tests"

/* ---- JSON expected form -> ta_sf structs ------------------------------- */

static int base32_decode(apr_pool_t *p, const char *in, const char **out, size_t *out_len)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  size_t n = strlen(in);
  unsigned char *buf = apr_palloc(p, n + 1);
  size_t len = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < n && in[i] != '='; i++) {
    const char *hit = strchr(alphabet, in[i]);
    if (hit == NULL || in[i] == '\0')
      return -1;
    acc = (acc << 5) | (uint32_t)(hit - alphabet);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      buf[len++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  buf[len] = '\0';
  *out = (const char *)buf;
  *out_len = len;
  return 0;
}

static int str_from_json(apr_pool_t *p, json_t *j, ta_sf_bare_t *b)
{
  if (!json_is_string(j))
    return -1;
  b->v.str.len = json_string_length(j);
  b->v.str.ptr = apr_pstrmemdup(p, json_string_value(j), b->v.str.len);
  return 0;
}

static int bare_from_json(apr_pool_t *p, json_t *j, ta_sf_bare_t *b)
{
  memset(b, 0, sizeof(*b));
  if (json_is_integer(j)) {
    b->type = TA_SF_INTEGER;
    b->v.integer = json_integer_value(j);
    return 0;
  }
  if (json_is_real(j)) {
    b->type = TA_SF_DECIMAL;
    return ta_sf_decimal_from_double(json_real_value(j), &b->v.decimal_milli) == TA_OK ? 0 : -1;
  }
  if (json_is_boolean(j)) {
    b->type = TA_SF_BOOLEAN;
    b->v.boolean = json_is_true(j);
    return 0;
  }
  if (json_is_string(j)) {
    b->type = TA_SF_STRING;
    return str_from_json(p, j, b);
  }
  if (!json_is_object(j))
    return -1;
  const char *type = json_string_value(json_object_get(j, "__type"));
  json_t *value = json_object_get(j, "value");
  if (type == NULL || value == NULL)
    return -1;
  if (strcmp(type, "token") == 0) {
    b->type = TA_SF_TOKEN;
    return str_from_json(p, value, b);
  }
  if (strcmp(type, "displaystring") == 0) {
    b->type = TA_SF_DISPLAY_STRING;
    return str_from_json(p, value, b);
  }
  if (strcmp(type, "date") == 0 && json_is_integer(value)) {
    b->type = TA_SF_DATE;
    b->v.integer = json_integer_value(value);
    return 0;
  }
  if (strcmp(type, "binary") == 0 && json_is_string(value)) {
    b->type = TA_SF_BYTES;
    return base32_decode(p, json_string_value(value), &b->v.str.ptr, &b->v.str.len);
  }
  return -1;
}

/* A key with an embedded NUL cannot be represented (keys are C strings). */
static const char *key_from_json(json_t *j)
{
  if (!json_is_string(j) || json_string_length(j) != strlen(json_string_value(j)))
    return NULL;
  return json_string_value(j);
}

static int params_from_json(apr_pool_t *p, json_t *j, ta_sf_params_t *out)
{
  if (!json_is_array(j))
    return -1;
  out->n = json_array_size(j);
  out->items = apr_pcalloc(p, sizeof(ta_sf_param_t) * (out->n + 1));
  for (size_t i = 0; i < out->n; i++) {
    json_t *pair = json_array_get(j, i);
    if (json_array_size(pair) != 2)
      return -1;
    out->items[i].key = key_from_json(json_array_get(pair, 0));
    if (out->items[i].key == NULL || bare_from_json(p, json_array_get(pair, 1), &out->items[i].value) != 0)
      return -1;
  }
  return 0;
}

static int item_from_json(apr_pool_t *p, json_t *j, ta_sf_item_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!json_is_array(j) || json_array_size(j) != 2)
    return -1;
  if (bare_from_json(p, json_array_get(j, 0), &out->bare) != 0)
    return -1;
  return params_from_json(p, json_array_get(j, 1), &out->params);
}

/* An inner list is [[items...], params]; an item is [bare, params]. */
static int member_from_json(apr_pool_t *p, json_t *j, ta_sf_member_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!json_is_array(j) || json_array_size(j) != 2)
    return -1;
  json_t *first = json_array_get(j, 0);
  if (!json_is_array(first))
    return item_from_json(p, j, &out->item);
  out->is_inner_list = 1;
  out->n_inner = json_array_size(first);
  out->inner = apr_pcalloc(p, sizeof(ta_sf_item_t) * (out->n_inner + 1));
  for (size_t i = 0; i < out->n_inner; i++)
    if (item_from_json(p, json_array_get(first, i), &out->inner[i]) != 0)
      return -1;
  return params_from_json(p, json_array_get(j, 1), &out->params);
}

static int list_from_json(apr_pool_t *p, json_t *j, ta_sf_list_t *out)
{
  if (!json_is_array(j))
    return -1;
  out->n = json_array_size(j);
  out->members = apr_pcalloc(p, sizeof(ta_sf_member_t) * (out->n + 1));
  for (size_t i = 0; i < out->n; i++)
    if (member_from_json(p, json_array_get(j, i), &out->members[i]) != 0)
      return -1;
  return 0;
}

static int dict_from_json(apr_pool_t *p, json_t *j, ta_sf_dict_t *out)
{
  if (!json_is_array(j))
    return -1;
  out->n = json_array_size(j);
  out->keys = apr_pcalloc(p, sizeof(const char *) * (out->n + 1));
  out->members = apr_pcalloc(p, sizeof(ta_sf_member_t) * (out->n + 1));
  for (size_t i = 0; i < out->n; i++) {
    json_t *pair = json_array_get(j, i);
    if (json_array_size(pair) != 2)
      return -1;
    out->keys[i] = key_from_json(json_array_get(pair, 0));
    if (out->keys[i] == NULL || member_from_json(p, json_array_get(pair, 1), &out->members[i]) != 0)
      return -1;
  }
  return 0;
}

/* ---- structural equality ----------------------------------------------- */

static int bare_equal(const ta_sf_bare_t *a, const ta_sf_bare_t *b)
{
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case TA_SF_INTEGER:
  case TA_SF_DATE:
    return a->v.integer == b->v.integer;
  case TA_SF_DECIMAL:
    return a->v.decimal_milli == b->v.decimal_milli;
  case TA_SF_BOOLEAN:
    return a->v.boolean == b->v.boolean;
  default:
    return a->v.str.len == b->v.str.len && memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
  }
}

static int params_equal(const ta_sf_params_t *a, const ta_sf_params_t *b)
{
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->items[i].key, b->items[i].key) != 0 || !bare_equal(&a->items[i].value, &b->items[i].value))
      return 0;
  return 1;
}

static int item_equal(const ta_sf_item_t *a, const ta_sf_item_t *b)
{
  return bare_equal(&a->bare, &b->bare) && params_equal(&a->params, &b->params);
}

static int member_equal(const ta_sf_member_t *a, const ta_sf_member_t *b)
{
  if (a->is_inner_list != b->is_inner_list)
    return 0;
  if (!a->is_inner_list)
    return item_equal(&a->item, &b->item);
  if (a->n_inner != b->n_inner || !params_equal(&a->params, &b->params))
    return 0;
  for (size_t i = 0; i < a->n_inner; i++)
    if (!item_equal(&a->inner[i], &b->inner[i]))
      return 0;
  return 1;
}

/* ---- one suite case ---------------------------------------------------- */

typedef enum { KIND_ITEM, KIND_LIST, KIND_DICT } kind_t;

/* Suite text may carry NUL (the generated files test it): length travels along. */
typedef struct {
  const char *s;
  size_t len;
} text_t;

typedef struct {
  kind_t kind;
  ta_sf_item_t item;
  ta_sf_list_t list;
  ta_sf_dict_t dict;
} value_t;

static int kind_of(const char *header_type, kind_t *kind)
{
  if (header_type == NULL)
    return -1;
  if (strcmp(header_type, "item") == 0) *kind = KIND_ITEM;
  else if (strcmp(header_type, "list") == 0) *kind = KIND_LIST;
  else if (strcmp(header_type, "dictionary") == 0) *kind = KIND_DICT;
  else return -1;
  return 0;
}

static int value_from_json(apr_pool_t *p, json_t *j, value_t *v)
{
  if (v->kind == KIND_ITEM) return item_from_json(p, j, &v->item);
  if (v->kind == KIND_LIST) return list_from_json(p, j, &v->list);
  return dict_from_json(p, j, &v->dict);
}

static ta_status_t value_parse(apr_pool_t *p, const text_t *in, value_t *v)
{
  if (v->kind == KIND_ITEM) return ta_sf_parse_item(p, in->s, in->len, &v->item);
  if (v->kind == KIND_LIST) return ta_sf_parse_list(p, in->s, in->len, &v->list);
  return ta_sf_parse_dict(p, in->s, in->len, &v->dict);
}

static char *value_serialize(apr_pool_t *p, const value_t *v)
{
  if (v->kind == KIND_ITEM) return ta_sf_serialize_item(p, &v->item);
  if (v->kind == KIND_LIST) return ta_sf_serialize_list(p, &v->list);
  return ta_sf_serialize_dict(p, &v->dict);
}

static int value_equal(const value_t *a, const value_t *b)
{
  if (a->kind == KIND_ITEM)
    return item_equal(&a->item, &b->item);
  if (a->kind == KIND_LIST) {
    if (a->list.n != b->list.n)
      return 0;
    for (size_t i = 0; i < a->list.n; i++)
      if (!member_equal(&a->list.members[i], &b->list.members[i]))
        return 0;
    return 1;
  }
  if (a->dict.n != b->dict.n)
    return 0;
  for (size_t i = 0; i < a->dict.n; i++)
    if (strcmp(a->dict.keys[i], b->dict.keys[i]) != 0 || !member_equal(&a->dict.members[i], &b->dict.members[i]))
      return 0;
  return 1;
}

/* Field lines joined the way a recipient combines them. */
static int join_lines(apr_pool_t *p, json_t *lines, text_t *out)
{
  size_t total = 0;
  if (!json_is_array(lines))
    return -1;
  for (size_t i = 0; i < json_array_size(lines); i++) {
    if (!json_is_string(json_array_get(lines, i)))
      return -1;
    total += json_string_length(json_array_get(lines, i)) + 2;
  }
  char *buf = apr_palloc(p, total + 1);
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(lines); i++) {
    json_t *line = json_array_get(lines, i);
    if (i > 0) {
      memcpy(buf + n, ", ", 2);
      n += 2;
    }
    memcpy(buf + n, json_string_value(line), json_string_length(line));
    n += json_string_length(line);
  }
  buf[n] = '\0';
  out->s = buf;
  out->len = n;
  return 0;
}

/* Serializer output (a C string) against the suite's text. */
static int text_equal(const char *got, const text_t *want)
{
  return got != NULL && strlen(got) == want->len && memcmp(got, want->s, want->len) == 0;
}

typedef struct {
  unsigned cases, parsed_ok, must_fail_ok, can_fail_failed, serialised_ok, serialise_refused, mismatches;
} counts_t;

static void mismatch(counts_t *c, const char *file, const char *name, const char *what)
{
  c->mismatches++;
  fprintf(stderr, "  MISMATCH %s: \"%s\": %s\n", file, name, what);
}

/* Every parameter list the parser marked canonical serializes to exactly
 * its input text. */
static int params_span_holds(apr_pool_t *p, const ta_sf_params_t *params)
{
  if (params->canonical == NULL)
    return 1;
  const char *written = ta_sf_serialize_params(p, params);
  return written && strlen(written) == params->canonical_len
         && memcmp(written, params->canonical, params->canonical_len) == 0;
}

static int member_spans_hold(apr_pool_t *p, const ta_sf_member_t *m)
{
  if (!m->is_inner_list)
    return params_span_holds(p, &m->item.params);
  for (size_t i = 0; i < m->n_inner; i++)
    if (!params_span_holds(p, &m->inner[i].params))
      return 0;
  return params_span_holds(p, &m->params);
}

static int canonical_spans_hold(apr_pool_t *p, const value_t *v)
{
  if (v->kind == KIND_ITEM)
    return params_span_holds(p, &v->item.params);
  const ta_sf_member_t *members = v->kind == KIND_LIST ? v->list.members : v->dict.members;
  size_t n = v->kind == KIND_LIST ? v->list.n : v->dict.n;
  for (size_t i = 0; i < n; i++)
    if (!member_spans_hold(p, &members[i]))
      return 0;
  return 1;
}

static void run_parse_case(apr_pool_t *p, const char *file, json_t *tc, counts_t *c)
{
  const char *name = json_string_value(json_object_get(tc, "name"));
  int must_fail = json_is_true(json_object_get(tc, "must_fail"));
  int can_fail = json_is_true(json_object_get(tc, "can_fail"));
  value_t got = { 0 }, want = { 0 };
  name = name ? name : "(unnamed)";
  if (kind_of(json_string_value(json_object_get(tc, "header_type")), &got.kind) != 0) {
    mismatch(c, file, name, "unknown header_type");
    return;
  }
  want.kind = got.kind;
  text_t raw;
  if (join_lines(p, json_object_get(tc, "raw"), &raw) != 0) {
    mismatch(c, file, name, "raw is not an array of strings");
    return;
  }
  ta_status_t st = value_parse(p, &raw, &got);
  if (must_fail) {
    if (st == TA_OK)
      mismatch(c, file, name, apr_psprintf(p, "parsed but must fail (as \"%s\")", value_serialize(p, &got)));
    else
      c->must_fail_ok++;
    return;
  }
  if (st != TA_OK) {
    if (can_fail)
      c->can_fail_failed++;
    else
      mismatch(c, file, name, apr_psprintf(p, "parse failed (%d)", (int)st));
    return;
  }
  if (value_from_json(p, json_object_get(tc, "expected"), &want) != 0) {
    mismatch(c, file, name, "expected is not representable");
    return;
  }
  if (!value_equal(&got, &want)) {
    mismatch(c, file, name, "parsed value differs from expected");
    return;
  }
  if (!canonical_spans_hold(p, &got)) {
    mismatch(c, file, name, "parameters marked canonical serialize differently");
    return;
  }
  json_t *canonical = json_object_get(tc, "canonical");
  text_t want_text;
  if (join_lines(p, canonical ? canonical : json_object_get(tc, "raw"), &want_text) != 0) {
    mismatch(c, file, name, "canonical is not an array of strings");
    return;
  }
  const char *from_parse = value_serialize(p, &got);
  const char *from_expected = value_serialize(p, &want);
  if (!text_equal(from_parse, &want_text)) {
    mismatch(c, file, name, apr_psprintf(p, "serialized \"%s\", canonical \"%s\"", from_parse ? from_parse : "(NULL)", want_text.s));
    return;
  }
  if (!text_equal(from_expected, &want_text)) {
    mismatch(c, file, name, "expected structure serializes differently");
    return;
  }
  c->parsed_ok++;
}

static void run_serialisation_case(apr_pool_t *p, const char *file, json_t *tc, counts_t *c)
{
  const char *name = json_string_value(json_object_get(tc, "name"));
  int must_fail = json_is_true(json_object_get(tc, "must_fail"));
  value_t v = { 0 };
  name = name ? name : "(unnamed)";
  if (kind_of(json_string_value(json_object_get(tc, "header_type")), &v.kind) != 0) {
    mismatch(c, file, name, "unknown header_type");
    return;
  }
  int representable = value_from_json(p, json_object_get(tc, "expected"), &v) == 0;
  const char *text = representable ? value_serialize(p, &v) : NULL;
  if (must_fail) {
    if (text != NULL)
      mismatch(c, file, name, apr_psprintf(p, "serialized as \"%s\" but must fail", text));
    else
      c->serialise_refused++;
    return;
  }
  text_t want_text;
  if (join_lines(p, json_object_get(tc, "canonical"), &want_text) != 0)
    mismatch(c, file, name, "canonical is not an array of strings");
  else if (!representable)
    mismatch(c, file, name, "expected is not representable");
  else if (!text_equal(text, &want_text))
    mismatch(c, file, name, apr_psprintf(p, "serialized \"%s\", canonical \"%s\"", text ? text : "(NULL)", want_text.s));
  else
    c->serialised_ok++;
}

static int compare_names(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs every *.json directly under dir; returns the number of files read. */
static unsigned run_suite_dir(const char *dir, int serialisation)
{
  apr_pool_t *p;
  assert_int_equal(apr_pool_create(&p, NULL), APR_SUCCESS);
  DIR *d = opendir(dir);
  if (d == NULL)
    fail_msg("cannot open %s", dir);
  const char *names[256];
  size_t n_names = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0 && n_names < 256)
      names[n_names++] = apr_pstrdup(p, e->d_name);
  }
  closedir(d);
  qsort(names, n_names, sizeof(names[0]), compare_names);

  unsigned total_mismatches = 0;
  for (size_t f = 0; f < n_names; f++) {
    const char *path = apr_pstrcat(p, dir, "/", names[f], NULL);
    json_error_t jerr;
    json_t *cases = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (cases == NULL || !json_is_array(cases))
      fail_msg("%s: not a JSON array: %s", path, jerr.text);
    counts_t c = { 0 };
    for (size_t i = 0; i < json_array_size(cases); i++) {
      apr_pool_t *cp;
      assert_int_equal(apr_pool_create(&cp, p), APR_SUCCESS);
      c.cases++;
      if (serialisation)
        run_serialisation_case(cp, names[f], json_array_get(cases, i), &c);
      else
        run_parse_case(cp, names[f], json_array_get(cases, i), &c);
      apr_pool_destroy(cp);
    }
    json_decref(cases);
    if (serialisation)
      printf("%-28s %4u cases: %4u serialized, %4u refused (must_fail), %u mismatches\n",
             names[f], c.cases, c.serialised_ok, c.serialise_refused, c.mismatches);
    else
      printf("%-28s %4u cases: %4u parsed+serialized, %4u refused (must_fail), %2u refused (can_fail), %u mismatches\n",
             names[f], c.cases, c.parsed_ok, c.must_fail_ok, c.can_fail_failed, c.mismatches);
    /* every case is accounted for exactly once */
    assert_int_equal(c.cases, c.parsed_ok + c.must_fail_ok + c.can_fail_failed + c.serialised_ok + c.serialise_refused + c.mismatches);
    if (c.cases == 0)
      fail_msg("%s: no cases read", names[f]);
    total_mismatches += c.mismatches;
  }
  apr_pool_destroy(p);
  assert_int_equal(total_mismatches, 0);
  return (unsigned)n_names;
}

static void test_parse_suite(void **state)
{
  (void)state;
  unsigned files = run_suite_dir(SUITE_DIR, 0);
  assert_true(files >= 20);   /* the suite ships 20 parse files */
}

static void test_serialisation_suite(void **state)
{
  (void)state;
  unsigned files = run_suite_dir(SUITE_DIR "/serialisation-tests", 1);
  assert_true(files >= 4);
}

/* ---- what the suite does not cover ------------------------------------- */

static void test_input_bound(void **state)
{
  apr_pool_t *p = *state;
  size_t n = TA_SF_MAX_INPUT + 1;
  char *big = apr_palloc(p, n);
  memset(big, 'a', n);
  ta_sf_item_t item;
  ta_sf_list_t list;
  ta_sf_dict_t dict;
  assert_int_equal(ta_sf_parse_item(p, big, n, &item), TA_E_TOO_LARGE);
  assert_int_equal(ta_sf_parse_list(p, big, n, &list), TA_E_TOO_LARGE);
  assert_int_equal(ta_sf_parse_dict(p, big, n, &dict), TA_E_TOO_LARGE);
  /* exactly at the bound: one long token is fine */
  assert_int_equal(ta_sf_parse_item(p, big, TA_SF_MAX_INPUT, &item), TA_OK);
  assert_int_equal(item.bare.v.str.len, TA_SF_MAX_INPUT);
}

/* "k0, k1, ..." : n distinct keys, valid as a list of tokens or a dictionary */
static const char *distinct_members(apr_pool_t *p, size_t n)
{
  char *s = "";
  for (size_t i = 0; i < n; i++)
    s = apr_psprintf(p, "%s%sk%d", s, i ? ", " : "", (int)i);
  return s;
}

static void test_member_bounds(void **state)
{
  apr_pool_t *p = *state;
  ta_sf_list_t list;
  ta_sf_dict_t dict;
  const char *ok = distinct_members(p, TA_SF_MAX_MEMBERS);
  const char *over = distinct_members(p, TA_SF_MAX_MEMBERS + 1);
  assert_int_equal(ta_sf_parse_list(p, ok, strlen(ok), &list), TA_OK);
  assert_int_equal(list.n, TA_SF_MAX_MEMBERS);
  assert_int_equal(ta_sf_parse_dict(p, ok, strlen(ok), &dict), TA_OK);
  assert_int_equal(dict.n, TA_SF_MAX_MEMBERS);
  assert_int_equal(ta_sf_parse_list(p, over, strlen(over), &list), TA_E_SF_PARSE);
  assert_int_equal(list.n, 0);
  assert_int_equal(ta_sf_parse_dict(p, over, strlen(over), &dict), TA_E_SF_PARSE);

  /* repeats of one key do not count against the bound */
  char *same = "";
  for (int i = 0; i < TA_SF_MAX_MEMBERS + 10; i++)
    same = apr_psprintf(p, "%s%sa=%d", same, i ? "," : "", i);
  assert_int_equal(ta_sf_parse_dict(p, same, strlen(same), &dict), TA_OK);
  assert_int_equal(dict.n, 1);
  assert_int_equal(dict.members[0].item.bare.v.integer, TA_SF_MAX_MEMBERS + 9);

  char *params = "x";
  for (int i = 0; i <= TA_SF_MAX_PARAMS; i++)
    params = apr_psprintf(p, "%s;p%d", params, i);
  ta_sf_item_t item;
  assert_int_equal(ta_sf_parse_item(p, params, strlen(params), &item), TA_E_SF_PARSE);

  char *inner = "(";
  for (int i = 0; i <= TA_SF_MAX_INNER; i++)
    inner = apr_psprintf(p, "%s%s%d", inner, i ? " " : "", i);
  inner = apr_pstrcat(p, inner, ")", NULL);
  assert_int_equal(ta_sf_parse_list(p, inner, strlen(inner), &list), TA_E_SF_PARSE);
}

/* The shapes ta_httpsig.c reads: Signature-Input and Signature members. */
static void test_signature_fields_and_lookups(void **state)
{
  apr_pool_t *p = *state;
  const char *in = "sig1=(\"@method\" \"@target-uri\" \"content-digest\";sf);created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z\"";
  ta_sf_dict_t d;
  assert_int_equal(ta_sf_parse_dict(p, in, strlen(in), &d), TA_OK);
  const ta_sf_member_t *m = ta_sf_dict_get(&d, "sig1");
  assert_non_null(m);
  assert_null(ta_sf_dict_get(&d, "sig2"));
  assert_true(m->is_inner_list);
  assert_int_equal(m->n_inner, 3);
  assert_string_equal(m->inner[2].bare.v.str.ptr, "content-digest");
  const ta_sf_bare_t *sf = ta_sf_param_get(&m->inner[2].params, "sf");
  assert_non_null(sf);
  assert_int_equal(sf->type, TA_SF_BOOLEAN);
  assert_int_equal(ta_sf_param_get(&m->params, "created")->v.integer, 1618884473);
  assert_string_equal(ta_sf_param_get(&m->params, "keyid")->v.str.ptr, "test-key-rsa-pss");
  assert_null(ta_sf_param_get(&m->params, "expires"));
  assert_string_equal(ta_sf_serialize_member(p, m),
                      "(\"@method\" \"@target-uri\" \"content-digest\";sf);created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z\"");
  assert_string_equal(ta_sf_serialize_params(p, &m->params), ";created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z\"");

  /* a repeated parameter keeps its first position with the last value */
  ta_sf_item_t item;
  assert_int_equal(ta_sf_parse_item(p, "a;x=1;y=2;x=3", 13, &item), TA_OK);
  assert_int_equal(item.params.n, 2);
  assert_string_equal(item.params.items[0].key, "x");
  assert_int_equal(item.params.items[0].value.v.integer, 3);

  /* byte sequences keep embedded NULs */
  assert_int_equal(ta_sf_parse_item(p, ":AAEA:", 6, &item), TA_OK);
  assert_int_equal(item.bare.v.str.len, 3);
  assert_memory_equal(item.bare.v.str.ptr, "\0\1\0", 3);
  /* bytes outside ASCII and NUL inside the input are refused */
  assert_int_equal(ta_sf_parse_item(p, "\"a\0b\"", 5, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "a\xc3\xa9", 3, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, NULL, 0, &item), TA_E_SF_PARSE);
}

static void test_serializer_refusals(void **state)
{
  apr_pool_t *p = *state;
  ta_sf_bare_t b = { .type = TA_SF_STRING };
  b.v.str.ptr = "a\0b";
  b.v.str.len = 3;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.type = TA_SF_TOKEN;
  b.v.str.ptr = "1abc";
  b.v.str.len = 4;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.v.str.len = 0;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.type = TA_SF_DISPLAY_STRING;
  b.v.str.ptr = "\xc3\x28";
  b.v.str.len = 2;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.v.str.ptr = "f\xc3\xbc\"%";
  b.v.str.len = 5;
  assert_string_equal(ta_sf_serialize_bare(p, &b), "%\"f%c3%bc%22%25\"");
  b.type = TA_SF_BOOLEAN;
  b.v.boolean = 2;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.type = TA_SF_DATE;
  b.v.integer = TA_SF_MAX_INTEGER + 1;
  assert_null(ta_sf_serialize_bare(p, &b));
  b.v.integer = -TA_SF_MAX_INTEGER;
  assert_string_equal(ta_sf_serialize_bare(p, &b), "@-999999999999999");
  b.type = TA_SF_DECIMAL;
  b.v.decimal_milli = -TA_SF_MAX_INTEGER;
  assert_string_equal(ta_sf_serialize_bare(p, &b), "-999999999999.999");
  b.v.decimal_milli = 1050;
  assert_string_equal(ta_sf_serialize_bare(p, &b), "1.05");
  b.type = (ta_sf_type_t)99;
  assert_null(ta_sf_serialize_bare(p, &b));

  ta_sf_param_t bad_key = { .key = "Upper", .value = { .type = TA_SF_INTEGER } };
  ta_sf_params_t params = { .items = &bad_key, .n = 1 };
  assert_null(ta_sf_serialize_params(p, &params));
  ta_sf_list_t empty = { NULL, 0 };
  assert_string_equal(ta_sf_serialize_list(p, &empty), "");
}

static void test_decimal_from_double(void **state)
{
  (void)state;
  int64_t m;
  /* 0.0015 is 0.00149999... in binary: rounding is on the decimal text */
  assert_int_equal(ta_sf_decimal_from_double(0.0015, &m), TA_OK);
  assert_int_equal(m, 2);
  assert_int_equal(ta_sf_decimal_from_double(1.0005, &m), TA_OK);   /* tie to even */
  assert_int_equal(m, 1000);
  assert_int_equal(ta_sf_decimal_from_double(-0.0005, &m), TA_OK);
  assert_int_equal(m, 0);
  assert_int_equal(ta_sf_decimal_from_double(0.0015000001, &m), TA_OK);
  assert_int_equal(m, 2);
  assert_int_equal(ta_sf_decimal_from_double(1e-300, &m), TA_OK);
  assert_int_equal(m, 0);
  assert_int_equal(ta_sf_decimal_from_double(999999999999.999, &m), TA_OK);
  assert_int_equal(m, TA_SF_MAX_INTEGER);
  assert_int_equal(ta_sf_decimal_from_double(1e15, &m), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_decimal_from_double(NAN, &m), TA_E_SF_PARSE);
}

/* ---- the scanning loops' edges (strings, bytes, numbers) --------------- */

/* Every position of an escape or a refused character in strings of up to
 * 20 characters, across the parser's and serializer's multi-character
 * steps; the expected text is built here one character at a time. */
static void test_string_positions(void **state)
{
  apr_pool_t *p = *state;
  static const char specials[] = { '"', '\\', 0x1f, 0x7f, (char)0x80, '\0' };
  for (size_t len = 0; len <= 20; len++) {
    char plain[24];
    for (size_t i = 0; i < sizeof(plain); i++)
      plain[i] = (char)('a' + i % 26);
    ta_sf_item_t item;
    /* plain, and unterminated */
    const char *quoted = apr_psprintf(p, "\"%.*s\";x", (int)len, plain);
    assert_int_equal(ta_sf_parse_item(p, quoted, strlen(quoted), &item), TA_OK);
    assert_int_equal(item.bare.v.str.len, len);
    assert_memory_equal(item.bare.v.str.ptr, plain, len);
    assert_int_equal(item.bare.v.str.ptr[len], '\0');
    assert_int_equal(item.params.n, 1);
    assert_int_equal(ta_sf_parse_item(p, quoted, len + 1, &item), TA_E_SF_PARSE);

    for (size_t k = 0; k <= len; k++) {
      for (size_t sp = 0; sp < sizeof(specials); sp++) {
        char value[24];
        memcpy(value, plain, len + 1);   /* len + 1 characters, one of them special */
        value[k] = specials[sp];
        int allowed = specials[sp] == '"' || specials[sp] == '\\';
        /* the serializer escapes DQUOTE and backslash, refuses the rest */
        char want[64];
        size_t n = 0;
        want[n++] = '"';
        for (size_t i = 0; i <= len; i++) {
          if (value[i] == '"' || value[i] == '\\')
            want[n++] = '\\';
          want[n++] = value[i];
        }
        want[n++] = '"';
        ta_sf_bare_t b = { .type = TA_SF_STRING };
        b.v.str.ptr = value;
        b.v.str.len = len + 1;
        char *text = ta_sf_serialize_bare(p, &b);
        if (!allowed) {
          assert_null(text);
          /* and the parser refuses the raw character */
          char raw[32];
          raw[0] = '"';
          memcpy(raw + 1, value, len + 1);
          raw[len + 2] = '"';
          assert_int_equal(ta_sf_parse_item(p, raw, len + 3, &item), TA_E_SF_PARSE);
          continue;
        }
        assert_non_null(text);
        assert_int_equal(strlen(text), n);
        assert_memory_equal(text, want, n);
        assert_int_equal(ta_sf_parse_item(p, want, n, &item), TA_OK);
        assert_int_equal(item.bare.v.str.len, len + 1);
        assert_memory_equal(item.bare.v.str.ptr, value, len + 1);
        /* a backslash before anything else is refused */
        want[k + 2] = 'n';
        if (want[k + 1] == '\\')
          assert_int_equal(ta_sf_parse_item(p, want, n, &item), TA_E_SF_PARSE);
      }
    }
  }
}

/* Reference base64 (RFC 4648, padded), one bit at a time. */
static size_t reference_base64(const unsigned char *in, size_t n, char *out)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t bits = n * 8, o = 0;
  for (size_t at = 0; at < bits; at += 6) {
    unsigned sextet = 0;
    for (size_t b = at; b < at + 6; b++)
      sextet = sextet << 1 | (b < bits ? (in[b / 8] >> (7 - b % 8)) & 1 : 0);
    out[o++] = alphabet[sextet];
  }
  while (o % 4)
    out[o++] = '=';
  out[o] = '\0';
  return o;
}

/* Byte sequences of 0 to 40 bytes: the decoder's 4-character groups and
 * every tail, padded and not, and a refused character in every position. */
static void test_byte_sequence_lengths(void **state)
{
  apr_pool_t *p = *state;
  unsigned char data[48];
  for (size_t i = 0; i < sizeof(data); i++)
    data[i] = (unsigned char)(i * 89 + 7);
  for (size_t n = 0; n <= 40; n++) {
    char b64[80];
    size_t len = reference_base64(data, n, b64);
    const char *field = apr_psprintf(p, ":%s:", b64);
    ta_sf_item_t item;
    assert_int_equal(ta_sf_parse_item(p, field, strlen(field), &item), TA_OK);
    assert_int_equal(item.bare.type, TA_SF_BYTES);
    assert_int_equal(item.bare.v.str.len, n);
    assert_memory_equal(item.bare.v.str.ptr, data, n);
    assert_string_equal(ta_sf_serialize_item(p, &item), field);

    size_t unpadded = len;
    while (unpadded > 0 && b64[unpadded - 1] == '=')
      unpadded--;
    field = apr_psprintf(p, ":%.*s:", (int)unpadded, b64);
    assert_int_equal(ta_sf_parse_item(p, field, strlen(field), &item), TA_OK);
    assert_int_equal(item.bare.v.str.len, n);
    assert_memory_equal(item.bare.v.str.ptr, data, n);

    for (size_t k = 0; k < unpadded; k++) {
      char *bad = apr_psprintf(p, ":%s:", b64);
      bad[1 + k] = "-_.*"[k % 4];   /* base64url and others */
      assert_int_equal(ta_sf_parse_item(p, bad, strlen(bad), &item), TA_E_SF_PARSE);
      if (k + 1 < unpadded) {   /* '=' followed by data is not padding */
        bad[1 + k] = '=';
        assert_int_equal(ta_sf_parse_item(p, bad, strlen(bad), &item), TA_E_SF_PARSE);
      }
    }
    /* one character past a whole group is no byte */
    field = apr_psprintf(p, ":%.*sA:", (int)(unpadded / 4 * 4), b64);
    assert_int_equal(ta_sf_parse_item(p, field, strlen(field), &item), TA_E_SF_PARSE);
  }
}

/* Integers at every digit count (and around 2^32, where the serializer
 * changes arithmetic) against printf, and the parsers' digit limits. */
/* The parser marks parameters whose input text is already canonical, and
 * that text is then exactly what the serializer writes; every other
 * spelling is left to the serializer. Also checked over every input of
 * the RFC suite (test_parse_suite) and by fuzz_sf. */
static void test_canonical_parameter_text(void **state)
{
  apr_pool_t *p = *state;
  static const struct { const char *member; int canonical; } cases[] = {
    {"(\"@method\");created=1618884473;keyid=\"test-key-rsa-pss\"", 1},
    {"(\"@method\" \"@authority\");created=0;nonce=\"b3k2pp5k7z\";alg=rsa;tag=\"a\\\"b\\\\c\"", 1},
    {"();created=-5", 1},
    {"();a;b=?0;c=tok*/:", 1},
    {"()", 1},
    {"(); created=1", 0},         /* space after ';' */
    {"();created=01", 0},         /* leading zero */
    {"();created=-0", 0},
    {"();a=?1", 0},               /* written as the bare key */
    {"();a=1;a=2", 0},            /* repeated key */
    {"();a=1.5", 0},              /* decimals, byte sequences, dates: the serializer decides */
    {"();a=:AQID:", 0},
    {"();a=@1", 0},
    {"();a=%\"x\"", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *field = apr_pstrcat(p, "sig=", cases[i].member, NULL);
    ta_sf_dict_t d;
    assert_int_equal(ta_sf_parse_dict(p, field, strlen(field), &d), TA_OK);
    const ta_sf_params_t *params = &d.members[0].params;
    const char *written = ta_sf_serialize_params(p, params);
    assert_non_null(written);
    if (!cases[i].canonical) {
      assert_null(params->canonical);
      continue;
    }
    assert_non_null(params->canonical);
    assert_int_equal(params->canonical_len, strlen(written));
    assert_memory_equal(params->canonical, written, params->canonical_len);
    /* a span of the input, right after the inner list */
    assert_ptr_equal(params->canonical, strchr(field, ')') + 1);
  }
}

static void test_number_digits(void **state)
{
  apr_pool_t *p = *state;
  int64_t values[64];
  size_t nv = 0;
  int64_t pow10 = 1;
  for (int k = 0; k <= 14; k++, pow10 *= 10) {
    values[nv++] = pow10;
    values[nv++] = pow10 - 1;
    values[nv++] = pow10 + 1;
  }
  values[nv++] = INT64_C(4294967295);
  values[nv++] = INT64_C(4294967296);
  values[nv++] = INT64_C(4294967297);
  values[nv++] = INT64_C(429496729599);
  values[nv++] = TA_SF_MAX_INTEGER;
  for (size_t i = 0; i < nv; i++) {
    for (int sign = 1; sign >= -1; sign -= 2) {
      int64_t v = sign * values[i];
      char want[32];
      snprintf(want, sizeof(want), "%lld", (long long)v);
      ta_sf_bare_t b = { .type = TA_SF_INTEGER, .v.integer = v };
      assert_string_equal(ta_sf_serialize_bare(p, &b), want);
      ta_sf_item_t item;
      assert_int_equal(ta_sf_parse_item(p, want, strlen(want), &item), TA_OK);
      assert_int_equal(item.bare.v.integer, v);
    }
  }
  ta_sf_item_t item;
  assert_int_equal(ta_sf_parse_item(p, "1234567890123456", 16, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "-1234567890123456", 17, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "123456789012.123", 16, &item), TA_OK);
  assert_int_equal(item.bare.v.decimal_milli, INT64_C(123456789012123));
  assert_int_equal(ta_sf_parse_item(p, "1234567890123.1", 15, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "1.1234", 6, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "-1.5", 4, &item), TA_OK);
  assert_int_equal(item.bare.v.decimal_milli, -1500);
  assert_int_equal(ta_sf_parse_item(p, "1.", 2, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "1.5.5", 5, &item), TA_E_SF_PARSE);
  assert_int_equal(ta_sf_parse_item(p, "@1.5", 4, &item), TA_E_SF_PARSE);
}

static int setup(void **state)
{
  apr_pool_t *p;
  if (apr_pool_create(&p, NULL) != APR_SUCCESS)
    return -1;
  *state = p;
  return 0;
}

static int teardown(void **state)
{
  apr_pool_destroy(*state);
  return 0;
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_suite),
    cmocka_unit_test(test_serialisation_suite),
    cmocka_unit_test_setup_teardown(test_input_bound, setup, teardown),
    cmocka_unit_test_setup_teardown(test_member_bounds, setup, teardown),
    cmocka_unit_test_setup_teardown(test_signature_fields_and_lookups, setup, teardown),
    cmocka_unit_test_setup_teardown(test_serializer_refusals, setup, teardown),
    cmocka_unit_test(test_decimal_from_double),
    cmocka_unit_test_setup_teardown(test_string_positions, setup, teardown),
    cmocka_unit_test_setup_teardown(test_byte_sequence_lengths, setup, teardown),
    cmocka_unit_test_setup_teardown(test_number_digits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_canonical_parameter_text, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

/* RFC 9421 section 2 component values and the signature base, against the
 * 22 component-level examples of TA_SHARED_DIR/reference/rfc9421/vectors.json
 * (expected lines read from the file), then every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ta_msg_text.h"
#include "ta_sigbase.h"

#define RFC_DIR TA_SHARED_DIR "/reference/rfc9421"
#define PARAMS_LINE "\n\"@signature-params\": ()"

static apr_pool_t *pool;
static json_t *vectors;

static int setup(void **state)
{
  (void)state;
  json_error_t jerr;
  vectors = json_load_file(RFC_DIR "/vectors.json", 0, &jerr);
  return vectors ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  json_decref(vectors);
  return 0;
}

/* expected_base_lines[line] of the example whose name starts with prefix,
 * with the vectors' "(SP)" marker turned back into the space it stands for. */
static const char *expected(const char *prefix, size_t line)
{
  json_t *examples = json_object_get(vectors, "component_examples");
  size_t i;
  json_t *e;
  json_array_foreach(examples, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    if (strncmp(name, prefix, strlen(prefix)) != 0)
      continue;
    const char *s = json_string_value(json_array_get(json_object_get(e, "expected_base_lines"), line));
    assert_non_null(s);
    char *out = apr_pstrdup(pool, s);
    char *sp;
    while ((sp = strstr(out, "(SP)")) != NULL)
      memmove(sp + 1, sp + 4, strlen(sp + 4) + 1), *sp = ' ';
    return out;
  }
  fail_msg("no example %s", prefix);
  return NULL;
}

static const char *example_input(const char *prefix)
{
  json_t *examples = json_object_get(vectors, "component_examples");
  size_t i;
  json_t *e;
  json_array_foreach(examples, i, e)
    if (strncmp(json_string_value(json_object_get(e, "name")), prefix, strlen(prefix)) == 0)
      return json_string_value(json_object_get(e, "input"));
  fail_msg("no example %s", prefix);
  return NULL;
}

static ta_msg_t *msg_from(const char *text, const char *scheme)
{
  ta_msg_t *m = NULL;
  ta_status_t st = ta_msg_parse_text(pool, text, strlen(text), scheme, &m, NULL, NULL);
  if (st != TA_OK)
    fail_msg("parse %s: %s", text, ta_error_token(st));
  return m;
}

/* The base lines for these identifiers, without the @signature-params line. */
static ta_status_t lines(const ta_msg_t *m, const char *const *ids, size_t n, const char **out)
{
  ta_component_t *c = apr_pcalloc(pool, (n + 1) * sizeof(*c));
  ta_status_t st;
  for (size_t i = 0; i < n; i++)
    if ((st = ta_component_parse(pool, ids[i], &c[i])) != TA_OK)
      return st;
  char *base;
  size_t len;
  if ((st = ta_sigbase_build(pool, m, c, n, "()", &base, &len)) != TA_OK)
    return st;
  assert_int_equal(len, strlen(base));
  size_t tail = strlen(PARAMS_LINE);
  assert_true(len >= tail - 1);
  if (n == 0)
    return TA_OK;
  assert_string_equal(base + len - tail, PARAMS_LINE);
  base[len - tail] = '\0';
  *out = base;
  return TA_OK;
}

static void expect_lines(const ta_msg_t *m, const char *const *ids, size_t n, const char *want)
{
  const char *got = NULL;
  ta_status_t st = lines(m, ids, n, &got);
  if (st != TA_OK)
    fail_msg("%s: %s", ids[0], ta_error_token(st));
  assert_string_equal(got, want);
}

static ta_status_t one_line(const ta_msg_t *m, const char *id, const char **out)
{
  return lines(m, &id, 1, out);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_fields(void **state)
{
  (void)state;
  const char *input = example_input("HTTP fields:");
  /* obs-fold is refused by the message parser (RFC 9112 5.2 lets a server
   * reject it); a server that replaces it by SP gets the RFC's line */
  const char *text = apr_pstrcat(pool, "GET / HTTP/1.1\n", input, NULL);
  ta_msg_t *m = NULL;
  assert_int_equal(ta_msg_parse_text(pool, text, strlen(text), "https", &m, NULL, NULL), TA_E_MSG_INVALID);
  char *unfolded = apr_pstrdup(pool, text);
  char *fold = strstr(unfolded, "\n    ");
  assert_non_null(fold);
  memmove(fold + 1, fold + 5, strlen(fold + 5) + 1);
  *fold = ' ';
  m = msg_from(unfolded, "https");
  const char *const ids[] = {"host", "date", "x-ows-header", "x-obs-fold-header", "cache-control", "example-dict"};
  expect_lines(m, ids, N(ids), expected("HTTP fields:", 0));

  m = msg_from("GET / HTTP/1.1\nHost: a\nX-Empty-Header: \n", "https");
  const char *const empty[] = {"x-empty-header"};
  expect_lines(m, empty, 1, expected("Empty field value", 0));
}

static void test_structured_parameters(void **state)
{
  (void)state;
  ta_msg_t *m = msg_from(apr_pstrcat(pool, "GET / HTTP/1.1\nHost: a\n",
                                     example_input("sf parameter"), NULL), "https");
  const char *const plain[] = {"example-dict"};
  expect_lines(m, plain, 1, expected("sf parameter", 0));
  const char *const sf[] = {"\"example-dict\";sf"};
  expect_lines(m, sf, 1, expected("sf parameter", 1));

  m = msg_from(apr_pstrcat(pool, "GET / HTTP/1.1\nHost: a\n", example_input("key parameter"), NULL), "https");
  const char *const keys[] = {"example-dict;key=\"a\"", "example-dict;key=\"d\"",
                              "\"example-dict\";key=\"b\"", "example-dict;key=\"c\""};
  expect_lines(m, keys, N(keys), expected("key parameter", 0));
  const char *out;
  assert_int_equal(one_line(m, "example-dict;key=\"zz\"", &out), TA_E_COMPONENT_MISSING);

  /* bs: each field line wrapped separately */
  const char *bs_input = example_input("bs parameter");
  const char *sep = strstr(bs_input, "\n---\n");
  assert_non_null(sep);
  const char *two_lines = apr_pstrcat(pool, "GET / HTTP/1.1\nHost: a\n",
                                      apr_pstrmemdup(pool, bs_input, (apr_size_t)(sep - bs_input)), NULL);
  const char *one = apr_pstrcat(pool, "GET / HTTP/1.1\nHost: a\n", sep + 5, NULL);
  const char *const ex[] = {"example-header"};
  const char *const ex_bs[] = {"example-header;bs"};
  m = msg_from(two_lines, "https");
  expect_lines(m, ex, 1, expected("bs parameter", 0));
  expect_lines(m, ex_bs, 1, expected("bs parameter", 1));
  m = msg_from(one, "https");
  expect_lines(m, ex, 1, expected("bs parameter", 0));
  expect_lines(m, ex_bs, 1, expected("bs parameter", 2));

  /* tr: ta_msg_t carries no trailers, so the parameter is refused */
  ta_component_t c;
  assert_int_equal(ta_component_parse(pool, "expires;tr", &c), TA_E_COMPONENT_INVALID);
}

static void test_derived(void **state)
{
  (void)state;
  ta_msg_t *m = msg_from(example_input("@method"), "https");
  const char *v;
  assert_int_equal(one_line(m, "@method", &v), TA_OK);
  assert_string_equal(v, expected("@method", 1));
  assert_int_equal(one_line(m, "@target-uri", &v), TA_OK);
  assert_string_equal(v, expected("@target-uri", 1));
  assert_int_equal(one_line(m, "@authority", &v), TA_OK);
  assert_string_equal(v, expected("@authority", 1));
  assert_int_equal(one_line(m, "@request-target", &v), TA_OK);
  assert_string_equal(v, expected("@request-target origin-form", 1));
  m = msg_from(example_input("@scheme"), "http");
  assert_int_equal(one_line(m, "@scheme", &v), TA_OK);
  assert_string_equal(v, expected("@scheme", 1));

  /* the single value of a component, without the identifier */
  ta_component_t c;
  const char **values;
  size_t n;
  assert_int_equal(ta_component_parse(pool, "@method", &c), TA_OK);
  assert_int_equal(ta_component_values(pool, m, &c, &values, &n), TA_OK);
  assert_int_equal(n, 1);
  assert_string_equal(values[0], expected("@method", 0));

  /* absolute-form: scheme and authority come from the target, and
   * @request-target is the raw target as received (ta_msg_t.target). */
  m = msg_from(example_input("@request-target absolute-form"), "http");
  assert_string_equal(m->scheme, "https");
  assert_string_equal(m->authority, "www.example.com");
  assert_int_equal(ta_component_parse(pool, "@target-uri", &c), TA_OK);
  assert_int_equal(ta_component_values(pool, m, &c, &values, &n), TA_OK);
  assert_string_equal(values[0], expected("@request-target absolute-form", 0));
  assert_int_equal(one_line(m, "@request-target", &v), TA_OK);
  assert_string_equal(v, expected("@request-target absolute-form", 1));
  /* authority-form (CONNECT) cannot be represented, so it is refused */
  const char *connect = example_input("@request-target authority-form");
  assert_int_equal(ta_msg_parse_text(pool, connect, strlen(connect), "http", &m, NULL, NULL), TA_E_MSG_INVALID);
  m = msg_from(example_input("@request-target asterisk-form"), "https");
  assert_int_equal(one_line(m, "@request-target", &v), TA_OK);
  assert_string_equal(v, expected("@request-target asterisk-form", 1));

  m = msg_from(example_input("@path"), "https");
  assert_int_equal(one_line(m, "@path", &v), TA_OK);
  assert_string_equal(v, expected("@path", 1));
  m = msg_from(example_input("@query"), "https");
  assert_int_equal(one_line(m, "@query", &v), TA_OK);
  assert_string_equal(v, expected("@query", 1));
  m = msg_from(example_input("@query with no"), "https");
  assert_int_equal(one_line(m, "@query", &v), TA_OK);
  assert_string_equal(v, expected("@query with no", 1));
  m = msg_from("GET /path HTTP/1.1\nHost: www.example.com\n", "https");
  assert_int_equal(one_line(m, "@query", &v), TA_OK);
  assert_string_equal(v, expected("@query absent", 1));
  m = msg_from("GET /path? HTTP/1.1\nHost: www.example.com\n", "https");
  assert_int_equal(one_line(m, "@query", &v), TA_OK);
  assert_string_equal(v, expected("@query absent", 1));

  m = msg_from(example_input("@status"), "https");
  assert_int_equal(one_line(m, "@status", &v), TA_OK);
  assert_string_equal(v, expected("@status", 1));
}

static void test_query_param(void **state)
{
  (void)state;
  ta_msg_t *m = msg_from(example_input("@query-param basic"), "https");
  const char *const basic[] = {"@query-param;name=\"baz\"", "\"@query-param\";name=\"qux\"",
                               "@query-param;name=\"param\""};
  expect_lines(m, basic, N(basic), expected("@query-param basic", 0));

  m = msg_from(example_input("@query-param re-encoding"), "https");
  const char *const reenc[] = {"@query-param;name=\"var\"", "@query-param;name=\"bar\"",
                               "@query-param;name=\"fa%C3%A7ade%22%3A%20\""};
  expect_lines(m, reenc, N(reenc), expected("@query-param re-encoding", 0));

  /* a repeated parameter gives one line per occurrence, in order */
  m = msg_from("GET /p?a=1&b=2&a=3+3&&a HTTP/1.1\nHost: h\n", "https");
  const char *v;
  assert_int_equal(one_line(m, "@query-param;name=\"a\"", &v), TA_OK);
  assert_string_equal(v, "\"@query-param\";name=\"a\": 1\n"
                         "\"@query-param\";name=\"a\": 3%203\n"
                         "\"@query-param\";name=\"a\": ");
  assert_int_equal(one_line(m, "@query-param;name=\"c\"", &v), TA_E_COMPONENT_MISSING);
  m = msg_from("GET /p HTTP/1.1\nHost: h\n", "https");
  assert_int_equal(one_line(m, "@query-param;name=\"a\"", &v), TA_E_COMPONENT_MISSING);
  /* a malformed escape stays literal and is then encoded */
  m = msg_from("GET /p?x=%zz%4 HTTP/1.1\nHost: h\n", "https");
  assert_int_equal(one_line(m, "@query-param;name=\"x\"", &v), TA_OK);
  assert_string_equal(v, "\"@query-param\";name=\"x\": %25zz%254");
  /* a decoded control character is encoded, so it never breaks a line */
  m = msg_from("GET /p?x=a%0D%0Ab HTTP/1.1\nHost: h\n", "https");
  assert_int_equal(one_line(m, "@query-param;name=\"x\"", &v), TA_OK);
  assert_string_equal(v, "\"@query-param\";name=\"x\": a%0D%0Ab");
}

static void test_signature_params_value(void **state)
{
  (void)state;
  const char *ids[] = {"@target-uri", "@authority", "date", "cache-control"};
  ta_component_t c[4];
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(ta_component_parse(pool, ids[i], &c[i]), TA_OK);
  ta_sf_param_t items[4];
  memset(items, 0, sizeof(items));
  items[0].key = "keyid";
  items[0].value.type = TA_SF_STRING;
  items[0].value.v.str.ptr = "test-key-rsa-pss";
  items[0].value.v.str.len = strlen("test-key-rsa-pss");
  items[1].key = "alg";
  items[1].value.type = TA_SF_STRING;
  items[1].value.v.str.ptr = "rsa-pss-sha512";
  items[1].value.v.str.len = strlen("rsa-pss-sha512");
  items[2].key = "created";
  items[2].value.type = TA_SF_INTEGER;
  items[2].value.v.integer = 1618884475;
  items[3].key = "expires";
  items[3].value.type = TA_SF_INTEGER;
  items[3].value.v.integer = 1618884775;
  ta_sf_params_t params = {.items = items, .n = 4};
  assert_string_equal(ta_sigbase_params_value(pool, c, 4, &params),
                      expected("@signature-params serialization", 0));
  assert_string_equal(ta_sigbase_params_value(pool, c, 0, NULL), "()");
}

static void test_identifier_forms(void **state)
{
  (void)state;
  ta_component_t a, b;
  assert_int_equal(ta_component_parse(pool, " @method ", &a), TA_OK);
  assert_string_equal(a.id, "\"@method\"");
  assert_true(a.is_derived);
  assert_int_equal(ta_component_parse(pool, "\"@method\"", &b), TA_OK);
  assert_true(ta_component_equal(&a, &b));
  assert_int_equal(ta_component_parse(pool, "content-digest;req;sf", &a), TA_OK);
  assert_string_equal(a.id, "\"content-digest\";req;sf");
  assert_int_equal(a.flags, TA_COMP_REQ | TA_COMP_SF);
  assert_int_equal(ta_component_parse(pool, "\"content-digest\";sf;req", &b), TA_OK);
  assert_true(ta_component_equal(&a, &b)); /* parameter order does not matter */
  assert_int_equal(ta_component_parse(pool, "content-digest;sf", &b), TA_OK);
  assert_false(ta_component_equal(&a, &b));
  assert_int_equal(ta_component_parse(pool, "@query-param;name=\"a\"", &a), TA_OK);
  assert_int_equal(ta_component_parse(pool, "@query-param;name=\"b\"", &b), TA_OK);
  assert_false(ta_component_equal(&a, &b));
  assert_string_equal(a.qname, "a");

  const char *const invalid[] = {
    "", "Content-Type", "\"Host\"", "@unknown", "@signature-params", "@query-param",
    "@method;name=\"x\"", "@path;sf", "@authority;key=\"a\"", "@status;bs",
    "host;name=\"x\"", "host;bs;sf", "host;bs;key=\"a\"", "host;tr", "host;x=1",
    "host;sf=?0", "host;key=a", "@query-param;name=a", "\"a b\"", "a\"b",
    "\"ho\\\"st\"", "(\"@method\")", "@method @path", "\"\"", "x;req=1",
  };
  for (size_t i = 0; i < N(invalid); i++)
    if (ta_component_parse(pool, invalid[i], &a) != TA_E_COMPONENT_INVALID)
      fail_msg("accepted identifier %s", invalid[i]);
  assert_int_equal(ta_component_parse(pool, NULL, &a), TA_E_COMPONENT_INVALID);
}

static void test_refusals(void **state)
{
  (void)state;
  const char *v;
  ta_msg_t *req = msg_from("POST /foo?a=1 HTTP/1.1\nHost: example.com\nX-A: 1\nDigest-Like: a=1\n", "https");
  ta_msg_t *res = msg_from("HTTP/1.1 503 Service Unavailable\nX-A: 2\n", NULL);

  /* request vs response components */
  assert_int_equal(one_line(req, "@status", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(res, "@method", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(req, "x-a;req", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(res, "x-a;req", &v), TA_E_COMPONENT_MISSING);
  res->request = req;
  assert_int_equal(one_line(res, "x-a;req", &v), TA_OK);
  assert_string_equal(v, "\"x-a\";req: 1");
  assert_int_equal(one_line(res, "@method;req", &v), TA_OK);
  assert_string_equal(v, "\"@method\";req: POST");
  assert_int_equal(one_line(res, "@status;req", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(res, "x-a", &v), TA_OK);
  assert_string_equal(v, "\"x-a\": 2");

  /* missing fields, structured parsing */
  assert_int_equal(one_line(req, "x-b", &v), TA_E_COMPONENT_MISSING);
  assert_int_equal(one_line(req, "x-a;sf", &v), TA_E_COMPONENT_INVALID);      /* not a known structured field */
  assert_int_equal(one_line(req, "x-a;key=\"a\"", &v), TA_E_COMPONENT_INVALID); /* "1" is no dictionary */
  assert_int_equal(one_line(req, "digest-like;key=\"a\"", &v), TA_OK);
  assert_string_equal(v, "\"digest-like\";key=\"a\": 1");
  ta_msg_add_field(req, "Content-Digest", "sha-256=:not base64!:");
  assert_int_equal(one_line(req, "content-digest;sf", &v), TA_E_COMPONENT_INVALID);

  /* covering another signature (RFC 9421 4.3): one member of Signature */
  ta_msg_add_field(req, "Signature", "sig1=:AAAA:,  proxy=:BBBB:");
  ta_msg_add_field(req, "Signature-Input", "sig1=( \"@method\" );created=1");
  assert_int_equal(one_line(req, "signature;key=\"sig1\"", &v), TA_OK);
  assert_string_equal(v, "\"signature\";key=\"sig1\": :AAAA:");
  assert_int_equal(one_line(req, "signature-input;sf", &v), TA_OK);
  assert_string_equal(v, "\"signature-input\";sf: sig1=(\"@method\");created=1");
  assert_int_equal(one_line(req, "signature;key=\"sig2\"", &v), TA_E_COMPONENT_MISSING);

  /* duplicates */
  const char *const dup[] = {"@method", "x-a", "\"@method\""};
  assert_int_equal(lines(req, dup, 3, &v), TA_E_COMPONENT_DUP);
  const char *const not_dup[] = {"x-a", "x-a;bs"};
  assert_int_equal(lines(req, not_dup, 2, &v), TA_OK);

  /* values that would break the line structure of the base */
  ta_msg_t *evil = ta_msg_make(pool);
  evil->method = "GET";
  evil->scheme = "https";
  evil->authority = "h";
  evil->path = "/";
  ta_msg_add_field(evil, "X-Evil", "a\r\n\"@method\": POST");
  ta_msg_add_field(evil, "X-Nul", "a\x01" "b");
  ta_msg_add_field(evil, "X-Tab", "a\tb");
  assert_int_equal(one_line(evil, "x-evil", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(evil, "x-nul", &v), TA_E_COMPONENT_INVALID);
  assert_int_equal(one_line(evil, "x-tab", &v), TA_OK);
  assert_int_equal(one_line(evil, "x-evil;bs", &v), TA_OK); /* bs wraps the raw bytes safely */
  evil->method = "GET\nX";
  assert_int_equal(one_line(evil, "@method", &v), TA_E_COMPONENT_INVALID);
  evil->method = NULL;
  assert_int_equal(one_line(evil, "@method", &v), TA_E_COMPONENT_MISSING);
  ta_component_t c;
  assert_int_equal(ta_component_parse(pool, "@path", &c), TA_OK);
  char *base;
  size_t len;
  assert_int_equal(ta_sigbase_build(pool, evil, &c, 1, "()\n\"@method\": GET", &base, &len), TA_E_COMPONENT_INVALID);
  assert_int_equal(ta_sigbase_build(pool, evil, &c, 1, "()", &base, &len), TA_OK);
  assert_string_equal(base, "\"@path\": /\n\"@signature-params\": ()");

  /* scheme and authority are signed in lower case wherever they appear */
  evil->scheme = "HTTPS";
  evil->authority = "Example.COM";
  evil->query = "Q=1";
  const char *const target[] = {"@scheme", "@authority", "@target-uri"};
  assert_int_equal(lines(evil, target, 3, &v), TA_OK);
  assert_string_equal(v, "\"@scheme\": https\n\"@authority\": example.com\n"
                         "\"@target-uri\": https://example.com/?Q=1");

  /* limits: 65 components, and a base over TA_SIG_MAX_BASE */
  ta_component_t many[TA_SIG_MAX_COMPONENTS + 1];
  char *big = apr_palloc(pool, 8001);
  memset(big, 'v', 8000);
  big[8000] = '\0';
  for (int i = 0; i <= TA_SIG_MAX_COMPONENTS; i++) {
    assert_int_equal(ta_component_parse(pool, apr_psprintf(pool, "x-h%d", i), &many[i]), TA_OK);
    ta_msg_add_field(evil, apr_psprintf(pool, "X-H%d", i), big);
  }
  assert_int_equal(ta_sigbase_build(pool, evil, many, TA_SIG_MAX_COMPONENTS + 1, "()", &base, &len), TA_E_TOO_LARGE);
  assert_int_equal(ta_sigbase_build(pool, evil, many, 32, "()", &base, &len), TA_OK);
  assert_int_equal(ta_sigbase_build(pool, evil, many, TA_SIG_MAX_COMPONENTS, "()", &base, &len), TA_E_TOO_LARGE);
}

/* Field names match ASCII case-insensitively, exactly where
 * apr_cstr_casecmp says they are equal: every pair of bytes, at the start,
 * middle and end of names around the eight-byte word size. */
static void test_field_name_case(void **state)
{
  (void)state;
  /* neighbours at the edges of A-Z and a-z, so a carry between bytes shows */
  static const char base_name[] = "x@AZ[`az{@AZ[`az{@AZ[`az{";
  static const size_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17};
  char a[32], b[32];
  ta_msg_t *m = ta_msg_make(pool);
  ta_msg_add_field(m, "Other", "o");
  ta_msg_add_field(m, a, "v");
  for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
    size_t len = lens[l];
    size_t positions[] = {0, len / 2, len - 1};
    for (size_t pi = 0; pi < 3; pi++) {
      for (int x = 1; x < 256; x++) {
        for (int y = 1; y < 256; y++) {
          memcpy(a, base_name, len);
          memcpy(b, base_name, len);
          a[len] = b[len] = '\0';
          a[positions[pi]] = (char)x;
          b[positions[pi]] = (char)y;
          int want = apr_cstr_casecmp(a, b) == 0;
          if (ta_msg_name_eq(a, b) != want || ta_msg_field_count(m, b) != want
              || ta_msg_has_field(m, b) != want)
            fail_msg("len %zu pos %zu: 0x%02x vs 0x%02x", len, positions[pi], x, y);
        }
      }
    }
  }
  /* after a non-ASCII byte (no carry may reach the next byte) */
  static const unsigned char high[] = {0x80, 0xbf, 0xc0, 0xe1, 0xff};
  for (size_t h = 0; h < sizeof(high); h++) {
    for (size_t len = 8; len <= 9; len++) {
      for (int x = 1; x < 256; x++) {
        for (int y = 1; y < 256; y++) {
          memcpy(a, base_name, len);
          memcpy(b, base_name, len);
          a[len] = b[len] = '\0';
          a[3] = b[3] = (char)high[h];
          a[4] = (char)x;
          b[4] = (char)y;
          if (ta_msg_name_eq(a, b) != (apr_cstr_casecmp(a, b) == 0))
            fail_msg("after 0x%02x: 0x%02x vs 0x%02x", high[h], x, y);
        }
      }
    }
  }
  /* different lengths never match, even with an equal prefix */
  assert_int_equal(ta_msg_field_count(m, "x"), 0);
  memcpy(a, "Signature", 10);
  assert_int_equal(ta_msg_field_count(m, "signature-input"), 0);
  assert_int_equal(ta_msg_field_count(m, "SIGNATURE"), 1);
  assert_int_equal(ta_msg_field_count(m, ""), 0);
}

/* Lines of one field are joined with ", " in received order, empty lines included. */
static void test_field_lines_joined(void **state)
{
  (void)state;
  ta_msg_t *m = ta_msg_make(pool);
  ta_msg_add_field(m, "Accept", "");
  ta_msg_add_field(m, "Host", "h");
  ta_msg_add_field(m, "ACCEPT", "a/b");
  ta_msg_add_field(m, "accept", "");
  int n = -1;
  assert_string_equal(ta_msg_field_lines(pool, m, "Accept", &n), ", a/b, ");
  assert_int_equal(n, 3);
  assert_string_equal(ta_msg_field(pool, m, "accept"), ", a/b, ");
  assert_string_equal(ta_msg_field_lines(pool, m, "host", &n), "h");
  assert_int_equal(n, 1);
  assert_null(ta_msg_field_lines(pool, m, "hos", &n));
  assert_int_equal(n, 0);
  assert_null(ta_msg_field(pool, m, "Hosts"));
}

/* A value with a control character (other than HTAB) or DEL never reaches
 * the base, wherever it sits in the value; every other byte does. */
static void test_value_bytes(void **state)
{
  (void)state;
  char value[40];
  ta_msg_t *m = ta_msg_make(pool);
  ta_msg_add_field(m, "X-V", value);
  ta_component_t c;
  assert_int_equal(ta_component_parse(pool, "x-v", &c), TA_OK);
  for (size_t len = 1; len <= 33; len++) {
    for (size_t pos = 0; pos < len; pos++) {
      for (int x = 1; x < 256; x++) {
        memset(value, 'v', len);
        value[len] = '\0';
        value[pos] = (char)x;
        int want_ok = !((x < 0x20 && x != '\t') || x == 0x7f);
        const char **values;
        size_t n;
        ta_status_t st = ta_component_values(pool, m, &c, &values, &n);
        if (st != (want_ok ? TA_OK : TA_E_COMPONENT_INVALID))
          fail_msg("len %zu pos %zu byte 0x%02x: %s", len, pos, x, ta_error_token(st));
        char *base;
        size_t base_len;
        st = ta_sigbase_build(pool, m, &c, 1, "()", &base, &base_len);
        if (st != (want_ok ? TA_OK : TA_E_COMPONENT_INVALID)
            || (want_ok && (base_len != strlen(base) || strncmp(base + 7, value, len) != 0)))
          fail_msg("base: len %zu pos %zu byte 0x%02x: %s", len, pos, x, ta_error_token(st));
        /* the same rule for the @signature-params value */
        st = ta_sigbase_build(pool, m, &c, 0, value, &base, &base_len);
        if (st != (want_ok ? TA_OK : TA_E_COMPONENT_INVALID))
          fail_msg("params: len %zu pos %zu byte 0x%02x: %s", len, pos, x, ta_error_token(st));
      }
    }
  }
}

/* A field identifier is lower-case tchar only; every other byte is refused. */
static void test_field_name_bytes(void **state)
{
  (void)state;
  for (int x = 0; x < 256; x++) {
    char name[3] = {'a', (char)x, '\0'};
    ta_sf_item_t item;
    memset(&item, 0, sizeof(item));
    item.bare.type = TA_SF_STRING;
    item.bare.v.str.ptr = name;
    item.bare.v.str.len = 2;
    int want_ok = (x >= 'a' && x <= 'z') || (x >= '0' && x <= '9')
                  || (x && strchr("!#$%&'*+-.^_`|~", x));
    ta_component_t c;
    ta_status_t st = ta_component_from_item(pool, &item, &c);
    if (st != (want_ok ? TA_OK : TA_E_COMPONENT_INVALID))
      fail_msg("byte 0x%02x: %s", x, ta_error_token(st));
    if (want_ok) {
      assert_memory_equal(c.name, name, 3);
      assert_string_equal(c.id, apr_psprintf(pool, "\"%s\"", name));
    }
  }
  /* derived names: exactly the nine of section 2.2, whole and case-sensitive */
  static const char *const refused[] = {"@", "@Method", "@method2", "@metho", "@query-params",
                                        "@signature-params", "@target-uri\0x"};
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    ta_sf_item_t item;
    memset(&item, 0, sizeof(item));
    item.bare.type = TA_SF_STRING;
    item.bare.v.str.ptr = refused[i];
    item.bare.v.str.len = i + 1 == sizeof(refused) / sizeof(refused[0]) ? 13 : strlen(refused[i]);
    ta_component_t c;
    assert_int_equal(ta_component_from_item(pool, &item, &c), TA_E_COMPONENT_INVALID);
  }
}

/* Scheme and authority are signed in lower case: exactly the bytes A-Z are
 * lowered, wherever they sit, in @scheme, @authority and @target-uri. */
static void test_lower_case_bytes(void **state)
{
  (void)state;
  char authority[40], scheme[40], want[120];
  ta_msg_t *m = ta_msg_make(pool);
  m->method = "GET";
  m->path = "/P";
  m->query = "Q=A";
  ta_component_t target_uri, auth, sch;
  assert_int_equal(ta_component_parse(pool, "@target-uri", &target_uri), TA_OK);
  assert_int_equal(ta_component_parse(pool, "@authority", &auth), TA_OK);
  assert_int_equal(ta_component_parse(pool, "@scheme", &sch), TA_OK);
  for (size_t len = 1; len <= 20; len++) {
    for (size_t pos = 0; pos < len; pos++) {
      for (int x = 0x20; x < 256; x++) {
        if (x == 0x7f)
          continue;
        /* neighbours at the edges of A-Z, so a carry between bytes shows */
        for (size_t i = 0; i < len; i++)
          authority[i] = "@AZ[`az{"[(i + len) % 8];
        authority[len] = '\0';
        authority[pos] = (char)x;
        memcpy(scheme, authority, len + 1);
        m->authority = authority;
        m->scheme = scheme;
        char lowered[40];
        for (size_t i = 0; i <= len; i++)
          lowered[i] = (char)(authority[i] >= 'A' && authority[i] <= 'Z' ? authority[i] + 32 : authority[i]);
        const char **values;
        size_t n;
        assert_int_equal(ta_component_values(pool, m, &auth, &values, &n), TA_OK);
        if (strcmp(values[0], lowered) != 0)
          fail_msg("@authority len %zu pos %zu byte 0x%02x: %s", len, pos, x, values[0]);
        assert_int_equal(ta_component_values(pool, m, &sch, &values, &n), TA_OK);
        assert_string_equal(values[0], lowered);
        assert_int_equal(ta_component_values(pool, m, &target_uri, &values, &n), TA_OK);
        snprintf(want, sizeof(want), "%s://%s/P?Q=A", lowered, lowered);
        if (strcmp(values[0], want) != 0)
          fail_msg("@target-uri len %zu pos %zu byte 0x%02x: %s", len, pos, x, values[0]);
        /* the message itself is left as it was */
        assert_int_equal(authority[pos], (char)x);
      }
    }
  }
}

int main(void)
{
  apr_initialize();
  apr_pool_create(&pool, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fields),
    cmocka_unit_test(test_structured_parameters),
    cmocka_unit_test(test_derived),
    cmocka_unit_test(test_query_param),
    cmocka_unit_test(test_signature_params_value),
    cmocka_unit_test(test_identifier_forms),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_field_name_case),
    cmocka_unit_test(test_field_lines_joined),
    cmocka_unit_test(test_value_bytes),
    cmocka_unit_test(test_field_name_bytes),
    cmocka_unit_test(test_lower_case_bytes),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  apr_pool_destroy(pool);
  apr_terminate();
  return rc;
}

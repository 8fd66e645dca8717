#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

/* The library source itself, compiled again here so the differential tests
 * can reach its static normalize_general and is_canonical. */
#include "ta_path.c"

#include "test_pool.h"
#include "test_rng.h"

static const struct {
  const char *raw, *normalized;
} good[] = {
  {"/", "/"},
  {"/rest/api/2/issue", "/rest/api/2/issue"},
  {"/rest/", "/rest/"},
  {"//admin", "/admin"},
  {"/rest//api///x", "/rest/api/x"},
  {"/rest/../admin", "/admin"},
  {"/rest/./api", "/rest/api"},
  {"/rest/api/..", "/rest/"},
  {"/rest/api/.", "/rest/api/"},
  {"/rest/%2e%2e/admin", "/admin"},
  {"/rest/%2E%2e/admin", "/admin"},
  {"/rest/.%2e/admin", "/admin"},
  {"/rest/%2e/api", "/rest/api"},
  {"/rest;jsessionid=ABC/api", "/rest/api"},
  {"/rest/..;/admin", "/admin"},
  {"/rest/api;v=1;x=2", "/rest/api"},
  {"/;x/rest", "/rest"},
  {"/rest/%252e%252e/admin", "/rest/%252e%252e/admin"}, /* decoded once: literal "%2e%2e" */
  {"/a%41%7e%2D", "/aA~-"},
  {"/a%3bb", "/a%3Bb"},                /* an encoded ';' is data, not a parameter */
  {"/a b", "/a%20b"},
  {"/a%20b", "/a%20b"},
  {"/caf\xc3\xa9", "/caf%C3%A9"},
  {"/wiki/a:b@c!$&'()*+,=", "/wiki/a:b@c!$&'()*+,="},
  {"/a/...", "/a/..."},                 /* three dots are a name */
  {"/a/..b", "/a/..b"},
  {"/admin.", "/admin."},
  {"/a/b/../../c/", "/c/"},
  {"/a/b/c/../..", "/a/"},
  {"/..a", "/..a"},
};

static void test_normalize_good(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    const char *out = NULL;
    ta_status_t rv = ta_path_normalize(pool, good[i].raw, &out);
    if (rv != TA_OK)
      fail_msg("'%s' refused (%d)", good[i].raw, rv);
    if (strcmp(out, good[i].normalized) != 0)
      fail_msg("'%s' -> '%s', want '%s'", good[i].raw, out, good[i].normalized);
    /* canonical: normalising the output again changes nothing */
    const char *again = NULL;
    assert_int_equal(ta_path_normalize(pool, out, &again), TA_OK);
    assert_string_equal(again, out);
  }
}

static void test_normalize_refused(void **state)
{
  (void)state;
  const char *bad[] = {
    NULL, "", "rest", "*", "/rest/%2fadmin", "/rest/%2Fadmin", "/rest%5cadmin", "/rest%5Cadmin",
    "/rest\\admin", "/a%00b", "/a%0d%0ab", "/a\tb", "/a\x7f", "/a%7f", "/a%", "/a%2", "/a%zz",
    "/a%2g", "/..", "/../etc", "/a/../..", "/%2e%2e", "/%2e%2e/x", "/a/%2e%2e/%2e%2e/b",
    "/a%;x2e",                           /* an escape cut by ';' */
    "/a/..%2f..%2fetc",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *out = "untouched";
    if (ta_path_normalize(pool, bad[i], &out) != TA_E_PATH_NOT_ALLOWED)
      fail_msg("'%s' accepted as '%s'", bad[i] ? bad[i] : "(null)", out);
  }
  /* over-long */
  char *huge = apr_palloc(pool, TA_PATH_MAX_INPUT + 2);
  memset(huge, 'a', TA_PATH_MAX_INPUT + 1);
  huge[0] = '/';
  huge[TA_PATH_MAX_INPUT + 1] = '\0';
  const char *out = NULL;
  assert_int_equal(ta_path_normalize(pool, huge, &out), TA_E_PATH_NOT_ALLOWED);
  huge[TA_PATH_MAX_INPUT] = '\0';
  assert_int_equal(ta_path_normalize(pool, huge, &out), TA_OK);
}

/* The fast path (is_canonical) and the general algorithm must agree on one
 * input: an accepted input is the general algorithm's output for it, and
 * every general output (within the input bound) is accepted as canonical. */
static int check_agreement(apr_pool_t *p, const char *raw)
{
  const char *general = NULL;
  ta_status_t general_rv = normalize_general(p, raw, &general);
  int canonical = raw[0] == '/' && is_canonical(raw);
  if (canonical) {
    if (general_rv != TA_OK)
      fail_msg("fast path accepts '%s', general refuses (%d)", raw, general_rv);
    if (strcmp(general, raw) != 0)
      fail_msg("fast path accepts '%s', general gives '%s'", raw, general);
  }
  if (general_rv == TA_OK && strlen(general) <= TA_PATH_MAX_INPUT && !is_canonical(general))
    fail_msg("'%s' -> '%s' is not accepted as canonical", raw, general);
  const char *pub = NULL;
  ta_status_t pub_rv = ta_path_normalize(p, raw, &pub);
  if (pub_rv != general_rv || (pub_rv == TA_OK && strcmp(pub, general) != 0))
    fail_msg("ta_path_normalize('%s') differs from the general algorithm", raw);
  if (pub_rv == TA_OK && (pub == raw) != canonical)
    fail_msg("'%s': returned the input itself only when canonical", raw);
  return canonical;
}


static void test_fast_path_matches_general_on_cases(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    check_agreement(pool, good[i].raw);
    assert_true(check_agreement(pool, good[i].normalized));
  }
  const char *more[] = {
    "/", "/a", "/a/", "/rest/api/2/issue", "/protected", "/a/./b", "/a/../b", "/./", "/../",
    "/.", "/..", "/...", "/a/.", "/a/..", "/a//", "//", "/a%20b", "/a%2fb", "/a%2Fb", "/a%41",
    "/a%3B", "/a%3b", "/a%25", "/a%5C", "/a%7F", "/a%7E", "/a%C3%A9", "/a%c3%a9", "/a%", "/a%2",
    "/a%G0", "/a;b", "/a\\b", "/a b", "/a\x7f", "/a\x01", "/caf\xc3\xa9", "/a%00", "/a%2E",
    "/%2E%2E", "/.a", "/a.", "/..a/", "/a/.../",
  };
  for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
    check_agreement(pool, more[i]);

  /* The input bound applies to the fast path too. */
  char *huge = apr_palloc(pool, TA_PATH_MAX_INPUT + 2);
  memset(huge, 'a', TA_PATH_MAX_INPUT + 1);
  huge[0] = '/';
  huge[TA_PATH_MAX_INPUT + 1] = '\0';
  assert_false(is_canonical(huge));
  check_agreement(pool, huge);
  huge[TA_PATH_MAX_INPUT] = '\0';
  assert_true(is_canonical(huge));
  memcpy(huge + TA_PATH_MAX_INPUT - 2, "%20", 4); /* an escape ending past the bound */
  assert_false(is_canonical(huge));
  check_agreement(pool, huge);
}

static void test_fast_path_matches_general_random(void **state)
{
  (void)state;
  static const char alphabet[] = {
    'a', 'Z', '0', '.', '/', ';', '%', '2', 'e', 'f', '~', '-', ':', '@', '\\', 0x7f, 0x01,
    'E', 'F', 'B', '3', '5', 'C', '/', '.', '%', ' ', (char)0x80,
  };
  enum { N = 1000000, MAX_LEN = 20 };
  apr_pool_t *sub = NULL;
  assert_int_equal(apr_pool_create(&sub, pool), APR_SUCCESS);
  char buf[MAX_LEN + 2];
  size_t canonical = 0, refused = 0;
  for (size_t n = 0; n < N; n++) {
    uint64_t r = rng_next();
    size_t len = 1 + (size_t)(r % MAX_LEN);
    r >>= 8;
    buf[0] = (r & 63) == 0 ? 'a' : '/'; /* now and then a path without the leading '/' */
    r >>= 6;
    for (size_t i = 1; i < len; i++) {
      if (r < sizeof(alphabet))
        r = rng_next();
      buf[i] = alphabet[r % sizeof(alphabet)];
      r /= sizeof(alphabet);
    }
    buf[len] = '\0';
    const char *out = NULL;
    if (check_agreement(sub, buf))
      canonical++;
    else if (normalize_general(sub, buf, &out) != TA_OK)
      refused++;
    if (n % 4096 == 0)
      apr_pool_clear(sub);
  }
  apr_pool_destroy(sub);
  /* The inputs cover all three outcomes in bulk. */
  assert_true(canonical > 10000);
  assert_true(refused > 10000);
  assert_true(N - canonical - refused > 10000);
}

static ta_path_set_t *set_of(const char *const *prefixes, size_t n)
{
  ta_path_set_t *s = NULL;
  const char *err = NULL;
  assert_int_equal(ta_path_set_parse(pool, prefixes, n, &s, &err), TA_OK);
  return s;
}

static int allowed(const ta_path_set_t *s, const char *raw)
{
  const char *norm = NULL;
  if (ta_path_normalize(pool, raw, &norm) != TA_OK)
    return 0;
  return ta_path_set_match(s, norm);
}

static void test_segment_boundaries(void **state)
{
  (void)state;
  const char *prefixes[] = {"/rest", "/plugins/servlet/", "/wiki/a b"};
  ta_path_set_t *s = set_of(prefixes, 3);
  assert_int_equal(ta_path_set_count(s), 3);
  assert_true(allowed(s, "/rest"));
  assert_true(allowed(s, "/rest/"));
  assert_true(allowed(s, "/rest/api/2"));
  assert_false(allowed(s, "/restricted"));
  assert_false(allowed(s, "/rest.json"));
  assert_false(allowed(s, "/"));
  assert_false(allowed(s, "/Rest/api"));             /* case-sensitive */
  assert_true(allowed(s, "/plugins/servlet"));
  assert_true(allowed(s, "/plugins/servlet/x"));
  assert_false(allowed(s, "/plugins/servletx"));
  assert_true(allowed(s, "/wiki/a%20b/page"));
  assert_true(allowed(s, "/wiki/a b"));
}

static void test_hostile_paths(void **state)
{
  (void)state;
  const char *prefixes[] = {"/rest"};
  ta_path_set_t *s = set_of(prefixes, 1);
  assert_false(allowed(s, "/rest/../admin"));
  assert_false(allowed(s, "/rest/%2e%2e/admin"));
  assert_false(allowed(s, "/rest/..;/admin"));
  assert_false(allowed(s, "/rest/%2fadmin"));        /* refused outright */
  assert_false(allowed(s, "/rest%2f../admin"));
  assert_false(allowed(s, "/rest%5c..%5cadmin"));
  assert_false(allowed(s, "//admin"));
  assert_false(allowed(s, "/rest;x=/../admin"));
  assert_true(allowed(s, "//rest//api"));
  assert_true(allowed(s, "/rest;jsessionid=1/api"));
  assert_true(allowed(s, "/rest/%252e%252e/admin"));  /* stays under /rest: literal text */
  assert_true(allowed(s, "/admin/../rest/x"));
}

static void test_root_allows_all(void **state)
{
  (void)state;
  const char *prefixes[] = {"/"};
  ta_path_set_t *s = set_of(prefixes, 1);
  assert_true(allowed(s, "/"));
  assert_true(allowed(s, "/anything/at/all"));
  assert_false(allowed(s, "/../x"));
}

static void test_prefix_normalisation_and_errors(void **state)
{
  (void)state;
  const char *prefixes[] = {"/a/./b/", "//c", "/d/%7e"};
  ta_path_set_t *s = set_of(prefixes, 3);
  assert_true(allowed(s, "/a/b/x"));
  assert_true(allowed(s, "/c"));
  assert_true(allowed(s, "/d/~/x"));
  assert_true(allowed(s, "/d/%7E"));

  const char *bad[] = {"rest", "/../x", "/a%2fb", "", "/a%zz"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ta_path_set_t *o = NULL;
    const char *err = NULL;
    const char *one[] = {"/ok", bad[i]};
    assert_int_equal(ta_path_set_parse(pool, one, 2, &o, &err), TA_E_CONFIG);
    assert_non_null(err);
    assert_non_null(strstr(err, bad[i]));
  }
}

/* The set keeps its own copies: a canonical prefix is not kept by pointer
 * into the caller's (possibly temporary) strings. */
static void test_set_copies_prefixes(void **state)
{
  (void)state;
  char canonical[] = "/rest/api", trailing[] = "/wiki/", raw[] = "/a/./b";
  const char *prefixes[] = {canonical, trailing, raw};
  ta_path_set_t *s = set_of(prefixes, 3);
  memset(canonical, 'x', sizeof(canonical) - 1);
  memset(trailing, 'x', sizeof(trailing) - 1);
  memset(raw, 'x', sizeof(raw) - 1);
  assert_true(allowed(s, "/rest/api/x"));
  assert_true(allowed(s, "/wiki/page"));
  assert_true(allowed(s, "/a/b"));
  assert_false(allowed(s, "/xxxxxxxxx"));
  assert_true(ta_path_set_match_raw(s, "/rest/api/x"));
  assert_true(ta_path_set_match_raw(s, "/a/./b/c"));
}

static void test_empty_and_null_sets(void **state)
{
  (void)state;
  ta_path_set_t *s = set_of(NULL, 0);
  assert_false(allowed(s, "/"));
  assert_false(ta_path_set_match_raw(s, "/"));
  assert_false(ta_path_set_match(NULL, "/"));
  assert_false(ta_path_set_match_raw(NULL, "/"));
  assert_int_equal(ta_path_set_count(NULL), 0);
}

static void test_raw_mode(void **state)
{
  (void)state;
  const char *prefixes[] = {"/rest", "/secure/Dashboard.jspa"};
  ta_path_set_t *s = set_of(prefixes, 2);
  /* Seraph semantics: plain startsWith on the raw path, weaker by design */
  assert_true(ta_path_set_match_raw(s, "/rest/api"));
  assert_true(ta_path_set_match_raw(s, "/restricted"));
  assert_true(ta_path_set_match_raw(s, "/secure/Dashboard.jspa?x"));
  assert_false(ta_path_set_match_raw(s, "/secure/Other"));
  assert_false(ta_path_set_match_raw(s, "//rest"));
}

static void test_large_set(void **state)
{
  (void)state;
  enum { N = 1000 };
  const char **prefixes = apr_pcalloc(pool, N * sizeof(char *));
  for (int i = 0; i < N; i++)
    prefixes[i] = apr_psprintf(pool, "/p%d/s%d", i, i * 7);
  ta_path_set_t *s = set_of(prefixes, N);
  for (int i = 0; i < N; i++) {
    assert_true(allowed(s, apr_psprintf(pool, "/p%d/s%d/x", i, i * 7)));
    assert_false(allowed(s, apr_psprintf(pool, "/p%d/s%dx", i, i * 7)));
    assert_false(allowed(s, apr_psprintf(pool, "/p%d", i)));
  }
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_normalize_good, setup, teardown),
    cmocka_unit_test_setup_teardown(test_normalize_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fast_path_matches_general_on_cases, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fast_path_matches_general_random, setup, teardown),
    cmocka_unit_test_setup_teardown(test_segment_boundaries, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hostile_paths, setup, teardown),
    cmocka_unit_test_setup_teardown(test_root_allows_all, setup, teardown),
    cmocka_unit_test_setup_teardown(test_prefix_normalisation_and_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_set_copies_prefixes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_empty_and_null_sets, setup, teardown),
    cmocka_unit_test_setup_teardown(test_raw_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_large_set, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_forwarded.h"

#include "test_pool.h"

static void assert_chain(const apr_array_header_t *a, const char *const *want, int n)
{
  assert_non_null(a);
  assert_int_equal(a->nelts, n);
  for (int i = 0; i < n; i++)
    assert_string_equal(((const char **)a->elts)[i], want[i]);
}

static void test_xff_valid(void **state)
{
  (void)state;
  apr_array_header_t *a = NULL;
  assert_int_equal(ta_xff_parse(pool, "203.0.113.7", &a), TA_OK);
  const char *one[] = {"203.0.113.7"};
  assert_chain(a, one, 1);

  assert_int_equal(ta_xff_parse(pool, "203.0.113.7, 10.0.0.2,10.0.0.3 ,\t2001:db8::1", &a), TA_OK);
  const char *four[] = {"203.0.113.7", "10.0.0.2", "10.0.0.3", "2001:db8::1"};
  assert_chain(a, four, 4);

  assert_int_equal(ta_xff_parse(pool, "203.0.113.7:4711, [2001:db8::2]:443, [2001:db8::3]", &a), TA_OK);
  const char *ports[] = {"203.0.113.7", "2001:db8::2", "2001:db8::3"};
  assert_chain(a, ports, 3);
}

static void test_xff_garbage(void **state)
{
  (void)state;
  const char *bad[] = {"", " ", ",", "1.2.3.4,", ",1.2.3.4", "1.2.3.4,,5.6.7.8", "unknown",
                       "1.2.3.4 5.6.7.8", "example.com", "1.2.3.4:", "1.2.3.4:99999x",
                       "[1.2.3.4]", "[2001:db8::1", "[2001:db8::1]x", "01.2.3.4", "1.2.3.4;x",
                       "1.2.3.4\r\n5.6.7.8", "1.2.3.4:1:2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    apr_array_header_t *a = NULL;
    if (ta_xff_parse(pool, bad[i], &a) != TA_E_PROXY_CHAIN)
      fail_msg("XFF '%s' accepted", bad[i]);
  }
  apr_array_header_t *a = NULL;
  assert_int_equal(ta_xff_parse(pool, NULL, &a), TA_E_PROXY_CHAIN);
}

static void test_xff_limits(void **state)
{
  (void)state;
  apr_array_header_t *a = NULL;
  char *v = apr_pstrdup(pool, "10.0.0.1");
  for (int i = 2; i <= TA_FORWARDED_MAX_HOPS; i++)
    v = apr_psprintf(pool, "%s, 10.0.0.%d", v, i);
  assert_int_equal(ta_xff_parse(pool, v, &a), TA_OK);
  assert_int_equal(a->nelts, TA_FORWARDED_MAX_HOPS);
  char *over = apr_psprintf(pool, "%s, 10.0.1.1", v);
  assert_int_equal(ta_xff_parse(pool, over, &a), TA_E_PROXY_CHAIN);

  /* over-long input is refused before parsing */
  char *long_value = apr_palloc(pool, TA_FORWARDED_MAX_INPUT + 2);
  memset(long_value, ' ', TA_FORWARDED_MAX_INPUT + 1);
  memcpy(long_value, "1.2.3.4", 7);
  long_value[TA_FORWARDED_MAX_INPUT + 1] = '\0';
  assert_int_equal(ta_xff_parse(pool, long_value, &a), TA_E_PROXY_CHAIN);
  long_value[TA_FORWARDED_MAX_INPUT] = '\0';
  assert_int_equal(ta_xff_parse(pool, long_value, &a), TA_OK);
}

static void test_forwarded_valid(void **state)
{
  (void)state;
  apr_array_header_t *a = NULL;
  assert_int_equal(ta_forwarded_parse(pool, "for=192.0.2.60;proto=http;by=203.0.113.43", &a), TA_OK);
  const char *one[] = {"192.0.2.60"};
  assert_chain(a, one, 1);

  assert_int_equal(ta_forwarded_parse(pool,
      "For=\"[2001:db8:cafe::17]:4711\", for=\"192.0.2.43:80\";host=example.com , FOR=\"198.51.100.17\"", &a), TA_OK);
  const char *three[] = {"2001:db8:cafe::17", "192.0.2.43", "198.51.100.17"};
  assert_chain(a, three, 3);

  assert_int_equal(ta_forwarded_parse(pool, "proto=https;for=\"[::1]\"", &a), TA_OK);
  const char *v6[] = {"::1"};
  assert_chain(a, v6, 1);
}

static void test_forwarded_garbage(void **state)
{
  (void)state;
  const char *bad[] = {"", "for=", "for=unknown", "for=_hidden", "for=\"_abc:80\"",
                       "proto=https", "for=1.2.3.4;for=5.6.7.8", "for=1.2.3.4;proto=a;proto=b",
                       "for=2001:db8::1", "for=\"2001:db8::1\"", "for=\"[2001:db8::1]", "for=1.2.3.4,",
                       "for=1.2.3.4 x", "for=192.0.2.43:80", "for 1.2.3.4", "=1.2.3.4", "for=1.2.3.4;", "for=1.2.3.4,,for=1.2.3.5",
                       "for=\"1.2.3.4\\\"", "for=example.com"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    apr_array_header_t *a = NULL;
    if (ta_forwarded_parse(pool, bad[i], &a) != TA_E_PROXY_CHAIN)
      fail_msg("Forwarded '%s' accepted", bad[i]);
  }
}

static void test_forwarded_hop_limit(void **state)
{
  (void)state;
  apr_array_header_t *a = NULL;
  char *v = apr_pstrdup(pool, "for=10.0.0.1");
  for (int i = 2; i <= TA_FORWARDED_MAX_HOPS; i++)
    v = apr_psprintf(pool, "%s,for=10.0.0.%d", v, i);
  assert_int_equal(ta_forwarded_parse(pool, v, &a), TA_OK);
  assert_int_equal(ta_forwarded_parse(pool, apr_pstrcat(pool, v, ",for=10.0.0.99", NULL), &a),
                   TA_E_PROXY_CHAIN);
}

static void test_proxy_walk(void **state)
{
  (void)state;
  const char *trusted_pats[] = {"10.0.0.0/8", "2001:db8:ffff::/48"};
  ta_ip_set_t *trusted = NULL;
  assert_int_equal(ta_ip_set_parse(pool, trusted_pats, 2, &trusted, NULL), TA_OK);
  apr_array_header_t *chain = NULL;

  /* client, spoofed-by-client, proxy1; peer is proxy2 */
  assert_int_equal(ta_xff_parse(pool, "198.51.100.1, 203.0.113.9, 10.0.0.5", &chain), TA_OK);
  assert_string_equal(ta_proxy_walk("10.0.0.6", chain, trusted), "203.0.113.9");

  /* an untrusted peer is the client, whatever it claims */
  assert_string_equal(ta_proxy_walk("192.0.2.1", chain, trusted), "192.0.2.1");

  /* all hops trusted: the leftmost entry */
  assert_int_equal(ta_xff_parse(pool, "10.1.1.1, 10.2.2.2", &chain), TA_OK);
  assert_string_equal(ta_proxy_walk("10.0.0.1", chain, trusted), "10.1.1.1");

  /* IPv6 proxy */
  assert_int_equal(ta_xff_parse(pool, "198.51.100.1", &chain), TA_OK);
  assert_string_equal(ta_proxy_walk("2001:db8:ffff::1", chain, trusted), "198.51.100.1");

  /* no chain, no trusted set */
  assert_string_equal(ta_proxy_walk("10.0.0.1", NULL, trusted), "10.0.0.1");
  assert_string_equal(ta_proxy_walk("10.0.0.1", chain, NULL), "10.0.0.1");
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_xff_valid, setup, teardown),
    cmocka_unit_test_setup_teardown(test_xff_garbage, setup, teardown),
    cmocka_unit_test_setup_teardown(test_xff_limits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forwarded_valid, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forwarded_garbage, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forwarded_hop_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_proxy_walk, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

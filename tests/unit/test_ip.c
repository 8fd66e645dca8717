#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_ip.h"

#include "test_pool.h"

static ta_ip_set_t *set_of(const char *const *pats, size_t n)
{
  ta_ip_set_t *s = NULL;
  const char *err = NULL;
  assert_int_equal(ta_ip_set_parse(pool, pats, n, &s, &err), TA_OK);
  assert_non_null(s);
  return s;
}

static void assert_refused(const char *pattern)
{
  ta_ip_set_t *s = NULL;
  const char *err = NULL;
  const char *pats[] = {"10.0.0.1", pattern};
  if (ta_ip_set_parse(pool, pats, 2, &s, &err) != TA_E_CONFIG)
    fail_msg("pattern '%s' was accepted", pattern);
  assert_non_null(err);
  assert_non_null(strstr(err, pattern));
}

static void test_exact_v4(void **state)
{
  (void)state;
  const char *pats[] = {"192.0.2.10"};
  ta_ip_set_t *s = set_of(pats, 1);
  assert_int_equal(ta_ip_set_count(s), 1);
  assert_true(ta_ip_set_match(s, "192.0.2.10"));
  assert_false(ta_ip_set_match(s, "192.0.2.11"));
  assert_false(ta_ip_set_match(s, "192.0.2.1"));
}

static void test_seraph_wildcards(void **state)
{
  (void)state;
  const char *pats[] = {"192.168.*.*", "10.1.2.*", "172.16.5.*"};
  ta_ip_set_t *s = set_of(pats, 3);
  assert_true(ta_ip_set_match(s, "192.168.0.1"));
  assert_true(ta_ip_set_match(s, "192.168.255.255"));
  assert_false(ta_ip_set_match(s, "192.169.0.1"));
  assert_true(ta_ip_set_match(s, "10.1.2.200"));
  assert_false(ta_ip_set_match(s, "10.1.3.1"));
  assert_true(ta_ip_set_match(s, "172.16.5.0"));
  const char *all[] = {"*.*.*.*"};
  ta_ip_set_t *a = set_of(all, 1);
  assert_true(ta_ip_set_match(a, "8.8.8.8"));
  assert_false(ta_ip_set_match(a, "2001:db8::1")); /* an IPv4 wildcard says nothing about IPv6 */
}

static void test_refused_patterns(void **state)
{
  (void)state;
  assert_refused("*");
  assert_refused("192.*.1.*");          /* wildcard not trailing */
  assert_refused("*.168.1.1");
  assert_refused("192.168.1");          /* 3 parts */
  assert_refused("192.168.1.1.1");
  assert_refused("192.168.01.1");       /* leading zero */
  assert_refused("192.168.1.256");
  assert_refused("192.168.1.-1");
  assert_refused("192.168.1.1 ");
  assert_refused(" 192.168.1.1");
  assert_refused("192.168.1.*/24");     /* wildcard and CIDR together */
  assert_refused("192.168.1.0/33");
  assert_refused("192.168.1.0/");
  assert_refused("192.168.1.0/024");
  assert_refused("192.168.1.0/8a");
  assert_refused("2001:db8::/129");
  assert_refused("2001:db8::g");
  assert_refused("fe80::1%eth0");
  assert_refused("[2001:db8::1]");
  assert_refused("0x7f.0.0.1");
  assert_refused("");
  assert_refused("1.2.3.4**");
  assert_refused("1.2.3.*5");
}

static void test_cidr_v4(void **state)
{
  (void)state;
  const char *pats[] = {"10.0.0.0/8", "192.0.2.128/25", "198.51.100.7/32", "203.0.113.77/24"};
  ta_ip_set_t *s = set_of(pats, 4);
  assert_true(ta_ip_set_match(s, "10.255.1.2"));
  assert_false(ta_ip_set_match(s, "11.0.0.0"));
  assert_true(ta_ip_set_match(s, "192.0.2.128"));
  assert_true(ta_ip_set_match(s, "192.0.2.255"));
  assert_false(ta_ip_set_match(s, "192.0.2.127"));
  assert_true(ta_ip_set_match(s, "198.51.100.7"));
  assert_false(ta_ip_set_match(s, "198.51.100.8"));
  /* host bits in a CIDR pattern are masked, as apr_ipsubnet_create does */
  assert_true(ta_ip_set_match(s, "203.0.113.1"));
}

static void test_any_address(void **state)
{
  (void)state;
  const char *pats[] = {"0.0.0.0/0", "::/0"};
  ta_ip_set_t *s = set_of(pats, 2);
  assert_true(ta_ip_set_match(s, "1.2.3.4"));
  assert_true(ta_ip_set_match(s, "255.255.255.255"));
  assert_true(ta_ip_set_match(s, "2001:db8::1"));
  assert_true(ta_ip_set_match(s, "::"));
  assert_false(ta_ip_set_match(s, "not-an-ip"));
}

static void test_v6(void **state)
{
  (void)state;
  const char *pats[] = {"2001:db8::/32", "::1", "fd00:1:2:3::/64"};
  ta_ip_set_t *s = set_of(pats, 3);
  assert_true(ta_ip_set_match(s, "2001:db8:ffff::1"));
  assert_true(ta_ip_set_match(s, "2001:DB8::abcd"));
  assert_false(ta_ip_set_match(s, "2001:db9::1"));
  assert_true(ta_ip_set_match(s, "::1"));
  assert_true(ta_ip_set_match(s, "0:0:0:0:0:0:0:1"));
  assert_false(ta_ip_set_match(s, "::2"));
  assert_true(ta_ip_set_match(s, "fd00:1:2:3:ffff::9"));
  assert_false(ta_ip_set_match(s, "fd00:1:2:4::9"));
  assert_false(ta_ip_set_match(s, "127.0.0.1")); /* ::1 is not 127.0.0.1 */
}

static void test_v4_mapped(void **state)
{
  (void)state;
  const char *pats[] = {"192.168.*.*", "10.0.0.0/8", "198.51.100.9"};
  ta_ip_set_t *s = set_of(pats, 3);
  assert_true(ta_ip_set_match(s, "::ffff:192.168.7.7"));
  assert_true(ta_ip_set_match(s, "::FFFF:10.2.3.4"));
  assert_true(ta_ip_set_match(s, "::ffff:c633:6409")); /* 198.51.100.9 in hex */
  assert_false(ta_ip_set_match(s, "::ffff:11.0.0.1"));
  assert_false(ta_ip_set_match(s, "::192.168.7.7"));    /* IPv4-compatible is not mapped */
  /* a mapped pattern is an IPv4 pattern */
  const char *mapped[] = {"::ffff:203.0.113.0/120"};
  ta_ip_set_t *m = set_of(mapped, 1);
  assert_true(ta_ip_set_match(m, "203.0.113.44"));
  assert_false(ta_ip_set_match(m, "203.0.114.44"));
}

static void test_malformed_never_matches(void **state)
{
  (void)state;
  const char *pats[] = {"0.0.0.0/0", "::/0"};
  ta_ip_set_t *s = set_of(pats, 2);
  const char *bad[] = {NULL, "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                       "1.2.3.4:80", "[::1]", "::1%lo", "1.2.3.256", "localhost", "1.2.3.*",
                       "::ffff:1.2.3.04", "1:2:3:4:5:6:7:8:9",
                       "1111111111111111111111111111111111111111111111111111111111111111111::1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (ta_ip_set_match(s, bad[i]))
      fail_msg("malformed address '%s' matched", bad[i] ? bad[i] : "(null)");
  assert_false(ta_ip_set_match(NULL, "1.2.3.4"));
  assert_int_equal(ta_ip_set_count(NULL), 0);
}

static void test_empty_set_matches_nothing(void **state)
{
  (void)state;
  ta_ip_set_t *s = set_of(NULL, 0);
  assert_int_equal(ta_ip_set_count(s), 0);
  assert_false(ta_ip_set_match(s, "1.2.3.4"));
  assert_false(ta_ip_set_match(s, "::1"));
}

/* 1,000 patterns of mixed lengths: every listed address matches, the
 * neighbours outside each network do not. */
static void test_large_set(void **state)
{
  (void)state;
  enum { N = 1000 };
  const char **pats = apr_pcalloc(pool, N * sizeof(char *));
  for (int i = 0; i < N; i++) {
    if (i % 3 == 0)
      pats[i] = apr_psprintf(pool, "10.%d.%d.0/24", i / 256, i % 256);
    else if (i % 3 == 1)
      pats[i] = apr_psprintf(pool, "172.%d.%d.9", 16 + i / 256, i % 256);
    else
      pats[i] = apr_psprintf(pool, "2001:db8:%x::/48", i);
  }
  ta_ip_set_t *s = set_of(pats, N);
  assert_int_equal(ta_ip_set_count(s), N);
  for (int i = 0; i < N; i++) {
    char in[64], out[64];
    if (i % 3 == 0) {
      snprintf(in, sizeof(in), "10.%d.%d.77", i / 256, i % 256);
      snprintf(out, sizeof(out), "11.%d.%d.77", i / 256, i % 256);
    } else if (i % 3 == 1) {
      snprintf(in, sizeof(in), "172.%d.%d.9", 16 + i / 256, i % 256);
      snprintf(out, sizeof(out), "172.%d.%d.10", 16 + i / 256, i % 256);
    } else {
      snprintf(in, sizeof(in), "2001:db8:%x:1::5", i);
      snprintf(out, sizeof(out), "2001:db9:%x::5", i);
    }
    if (!ta_ip_set_match(s, in))
      fail_msg("%s should match", in);
    if (ta_ip_set_match(s, out))
      fail_msg("%s should not match", out);
  }
}

static void test_is_valid(void **state)
{
  (void)state;
  assert_true(ta_ip_is_valid("127.0.0.1"));
  assert_true(ta_ip_is_valid("::1"));
  assert_true(ta_ip_is_valid("::ffff:1.2.3.4"));
  assert_false(ta_ip_is_valid("1.2.3.4:5"));
  assert_false(ta_ip_is_valid("[::1]"));
  assert_false(ta_ip_is_valid("unknown"));
  assert_false(ta_ip_is_valid(NULL));
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_exact_v4, setup, teardown),
    cmocka_unit_test_setup_teardown(test_seraph_wildcards, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refused_patterns, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cidr_v4, setup, teardown),
    cmocka_unit_test_setup_teardown(test_any_address, setup, teardown),
    cmocka_unit_test_setup_teardown(test_v6, setup, teardown),
    cmocka_unit_test_setup_teardown(test_v4_mapped, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_never_matches, setup, teardown),
    cmocka_unit_test_setup_teardown(test_empty_set_matches_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_large_set, setup, teardown),
    cmocka_unit_test_setup_teardown(test_is_valid, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

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

/* The library source itself, compiled again here so the differential tests
 * can reach its static parse_address and the set internals. */
#include "ta_ip.c"

#include "test_pool.h"
#include "test_rng.h"

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

/* Reference: the address parser and search as they were before the
 * dotted-quad fast path and the per-family search loops, kept verbatim
 * (renamed) so the library's results can be compared with them. */
static int ref_parse_v4_parts(const char *s, size_t slen, int allow_wildcard,
                              unsigned char out[4], unsigned *n_fixed)
{
  size_t i = 0;
  unsigned fixed = 0;
  int seen_wild = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= slen || s[i] != '.')
        return 0;
      i++;
    }
    if (i < slen && s[i] == '*') {
      if (!allow_wildcard)
        return 0;
      seen_wild = 1;
      out[part] = 0;
      i++;
      continue;
    }
    if (seen_wild)
      return 0;
    size_t start = i;
    unsigned v = 0;
    while (i < slen && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      v = v * 10 + (unsigned)(s[i] - '0');
      i++;
    }
    size_t digits = i - start;
    if (digits == 0 || v > 255 || (digits > 1 && s[start] == '0'))
      return 0;
    out[part] = (unsigned char)v;
    fixed++;
  }
  if (i != slen)
    return 0;
  if (n_fixed)
    *n_fixed = fixed;
  return 1;
}

static int ref_parse_v6(const char *s, size_t slen, unsigned char out[16])
{
  char buf[TA_IP_MAX_TEXT];
  if (slen == 0 || slen >= sizeof(buf) || memchr(s, ':', slen) == NULL)
    return 0;
  memcpy(buf, s, slen);
  buf[slen] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1;
}

static int ref_parse_address(const char *ip, unsigned char out[16])
{
  if (ip == NULL)
    return 0;
  size_t len = strnlen(ip, TA_IP_MAX_TEXT);
  if (len == 0 || len >= TA_IP_MAX_TEXT)
    return 0;
  if (memchr(ip, ':', len)) {
    if (!ref_parse_v6(ip, len, out))
      return 0;
    if (memcmp(out, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
      memmove(out, out + 12, 4);
      return 1;
    }
    return 2;
  }
  return ref_parse_v4_parts(ip, len, 0, out, NULL) ? 1 : 0;
}

static void ref_mask_bytes(unsigned char *a, size_t bytes, unsigned len)
{
  for (size_t i = 0; i < bytes; i++) {
    unsigned bit = (unsigned)i * 8;
    if (bit >= len)
      a[i] = 0;
    else if (len - bit < 8)
      a[i] &= (unsigned char)(0xffu << (8 - (len - bit)));
  }
}

static int ref_family_match(const ta_ip_family_t *f, size_t addr_bytes, const unsigned char *addr)
{
  for (size_t gi = 0; gi < f->n_groups; gi++) {
    const ta_ip_group_t *g = &f->groups[gi];
    unsigned char key[16] = {0};
    memcpy(key, addr, addr_bytes);
    ref_mask_bytes(key, addr_bytes, g->len);
    size_t lo = g->start, hi = lo + g->count;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int c = memcmp(f->nets[mid].addr, key, sizeof(key));
      if (c == 0)
        return 1;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  }
  return 0;
}

static int ref_set_match(const ta_ip_set_t *s, const char *ip)
{
  unsigned char addr[16];
  switch (ref_parse_address(ip, addr)) {
  case 1: return ref_family_match(&s->v4, 4, addr);
  case 2: return ref_family_match(&s->v6, 16, addr);
  default: return 0;
  }
}



/* Address-like text: near-valid dotted quads, inet_ntop IPv6 (some
 * IPv4-mapped), or junk from the characters address parsers care about,
 * then now and then a few byte edits. */
static void random_address(char *buf, size_t size)
{
  static const char junk[] = "0123456789.:abcdefABCDEFx*/% []\x01";
  size_t len = 0;
  switch (rng_below(3)) {
  case 0: {
    unsigned parts = rng_below(8) == 0 ? 3 + rng_below(3) : 4;
    for (unsigned i = 0; i < parts; i++) {
      unsigned v = rng_below(4) == 0 ? rng_below(1000) : rng_below(256);
      const char *sep = i == 0 ? "" : rng_below(30) == 0 ? ":" : ".";
      int n = rng_below(12) == 0 ? snprintf(buf + len, size - len, "%s0%u", sep, v)
                                 : snprintf(buf + len, size - len, "%s%u", sep, v);
      len += (size_t)n;
    }
    break;
  }
  case 1: {
    unsigned char a[16];
    for (size_t i = 0; i < 16; i++)
      a[i] = (unsigned char)(rng_below(3) == 0 ? 0 : rng_next());
    if (rng_below(3) == 0)
      memcpy(a, v4_mapped_prefix, sizeof(v4_mapped_prefix));
    inet_ntop(AF_INET6, a, buf, (socklen_t)size);
    len = strlen(buf);
    break;
  }
  default:
    len = rng_below(70);
    for (size_t i = 0; i < len; i++)
      buf[i] = junk[rng_below(sizeof(junk) - 1)];
    break;
  }
  buf[len] = '\0';
  unsigned edits = rng_below(2) ? 0 : 1 + rng_below(3);
  for (unsigned e = 0; e < edits; e++) {
    char c = junk[rng_below(sizeof(junk) - 1)];
    size_t at = len ? rng_below((unsigned)len + 1) : 0;
    switch (rng_below(3)) {
    case 0:
      if (at < len)
        buf[at] = c;
      break;
    case 1:
      if (len + 1 < size) {
        memmove(buf + at + 1, buf + at, len - at + 1);
        buf[at] = c;
        len++;
      }
      break;
    default:
      if (at < len) {
        memmove(buf + at, buf + at + 1, len - at);
        len--;
      }
      break;
    }
  }
}

static void test_parser_matches_reference(void **state)
{
  (void)state;
  rng_state = 0x2545f4914f6cdd1du;   /* the inputs these tests were written with */
  static const char *cases[] = {
    "0.0.0.0", "255.255.255.255", "1.2.3.4", "01.2.3.4", "1.2.3.04", "1.2.3.256", "1.2.3",
    "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.", ".1.2.3", "1234.1.1.1", "1.2.3.4:80",
    "00.1.1.1", "0.0.0.00", "999.1.1.1", "25a.1.1.1", "1.2.3.*", "::1", "::ffff:1.2.3.4",
    "::ffff:1.2.3.04", "[::1]", "::1%lo", "", "1:2:3:4:5:6:7:8:9", "2001:db8::1",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    unsigned char a[16] = {0}, b[16] = {0};
    int got = parse_address(cases[i], a), want = ref_parse_address(cases[i], b);
    if (got != want || memcmp(a, b, got == 2 ? 16 : got == 1 ? 4 : 0) != 0)
      fail_msg("'%s': %d, reference %d", cases[i], got, want);
  }
  assert_int_equal(parse_address(NULL, (unsigned char[16]){0}), 0);

  enum { N = 1000000 };
  size_t kinds[3] = {0, 0, 0};
  char buf[96];
  for (size_t n = 0; n < N; n++) {
    random_address(buf, sizeof(buf));
    unsigned char a[16] = {0}, b[16] = {0};
    int got = parse_address(buf, a), want = ref_parse_address(buf, b);
    if (got != want || memcmp(a, b, got == 2 ? 16 : got == 1 ? 4 : 0) != 0)
      fail_msg("'%s': %d, reference %d", buf, got, want);
    kinds[got]++;
  }
  /* invalid, IPv4 and IPv6 each in bulk */
  for (size_t k = 0; k < 3; k++)
    assert_true(kinds[k] > 50000);
}

static void test_match_matches_reference(void **state)
{
  (void)state;
  enum { SETS = 20, PER_SET = 50000 };
  size_t matched = 0, total = 0;
  char buf[96];
  for (int si = 0; si < SETS; si++) {
    const char *pats[12];
    size_t n = 1 + rng_below(12);
    for (size_t i = 0; i < n; i++) {
      if (rng_below(2)) {
        unsigned len = rng_below(33);
        pats[i] = apr_psprintf(pool, "%u.%u.%u.%u/%u", rng_below(256), rng_below(256),
                               rng_below(256), rng_below(256), len < 4 ? len : len % 8 == 0 ? len : 32 - rng_below(8));
      } else {
        unsigned char a[16];
        char text[64];
        for (size_t k = 0; k < 16; k++)
          a[k] = (unsigned char)(rng_below(3) == 0 ? 0 : rng_next());
        if (rng_below(3) == 0)
          memcpy(a, v4_mapped_prefix, sizeof(v4_mapped_prefix));
        inet_ntop(AF_INET6, a, text, sizeof(text));
        pats[i] = apr_psprintf(pool, "%s/%u", text, rng_below(129) % (rng_below(2) ? 129 : 17));
      }
    }
    ta_ip_set_t *s = set_of(pats, n);
    for (size_t k = 0; k < PER_SET; k++) {
      random_address(buf, sizeof(buf));
      int got = ta_ip_set_match(s, buf), want = ref_set_match(s, buf);
      if (got != want)
        fail_msg("'%s': %d, reference %d (set %d)", buf, got, want, si);
      matched += (size_t)got;
      total++;
    }
  }
  assert_true(matched > 10000);
  assert_true(total - matched > 10000);
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
    cmocka_unit_test_setup_teardown(test_parser_matches_reference, setup, teardown),
    cmocka_unit_test_setup_teardown(test_match_matches_reference, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

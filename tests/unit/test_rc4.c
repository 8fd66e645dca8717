/* RC4 against published vectors: RFC 6229 section 2 (keystream at offsets
 * for a 40-bit and a 128-bit key; Seraph uses 128-bit keys) and the
 * classic plaintext/ciphertext examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ta_rc4.h"

typedef struct {
  size_t offset;
  const char *hex;
} stream_vec_t;

static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
  size_t n = 0;
  for (const char *c = hex; c[0] && c[1] && n < max;) {
    if (*c == ' ') {
      c++;
      continue;
    }
    unsigned v;
    assert_int_equal(sscanf(c, "%2x", &v), 1);
    out[n++] = (unsigned char)v;
    c += 2;
  }
  return n;
}

static void check_keystream(const char *key_hex, const stream_vec_t *v, size_t nv)
{
  unsigned char key[32], want[16], got[16];
  size_t klen = unhex(key_hex, key, sizeof(key));
  for (size_t i = 0; i < nv; i++) {
    ta_rc4_t st;
    ta_rc4_init(&st, key, klen);
    ta_rc4_skip(&st, v[i].offset);
    memset(got, 0, sizeof(got));
    ta_rc4_crypt(&st, got, got, sizeof(got));  /* keystream = E(0) */
    assert_int_equal(unhex(v[i].hex, want, sizeof(want)), 16);
    if (memcmp(got, want, 16) != 0)
      fail_msg("key %s offset %zu differs", key_hex, v[i].offset);
    ta_rc4_wipe(&st);
  }
}

static void test_rfc6229_40bit_key(void **state)
{
  (void)state;
  static const stream_vec_t v[] = {
    {0, "b2396305f03dc027ccc3524a0a1118a8"},    {16, "6982944f18fc82d589c403a47a0d0919"},
    {240, "28cb1132c96ce286421dcaadb8b69eae"},  {256, "1cfcf62b03eddb641d77dfcf7f8d8c93"},
    {496, "42b7d0cdd918a8a33dd51781c81f4041"},  {512, "6459844432a7da923cfb3eb4980661f6"},
    {752, "ec10327bde2beefd18f9277680457e22"},  {768, "eb62638d4f0ba1fe9fca20e05bf8ff2b"},
    {1008, "45129048e6a0ed0b56b490338f078da5"}, {1024, "30abbcc7c20b01609f23ee2d5f6bb7df"},
    {1520, "3294f744d8f9790507e70f62e5bbceea"}, {1536, "d8729db41882259bee4f825325f5a130"},
    {2032, "1eb14a0c13b3bf47fa2a0ba93ad45b8b"}, {2048, "cc582f8ba9f265e2b1be9112e975d2d7"},
    {3056, "f2e30f9bd102ecbf75aaade9bc35c43c"}, {3072, "ec0e11c479dc329dc8da7968fe965681"},
    {4080, "068326a2118416d21f9d04b2cd1ca050"}, {4096, "ff25b58995996707e51fbdf08b34d875"},
  };
  check_keystream("0102030405", v, sizeof(v) / sizeof(v[0]));
}

static void test_rfc6229_128bit_key(void **state)
{
  (void)state;
  static const stream_vec_t v[] = {
    {0, "9ac7cc9a609d1ef7b2932899cde41b97"},   {16, "5248c4959014126a6e8a84f11d1a9e1c"},
    {240, "065902e4b620f6cc36c8589f66432f2b"}, {256, "d39d566bc6bce3010768151549f3873f"},
    {4096, "a36a4c301ae8ac13610ccbc12256cacc"},
  };
  check_keystream("0102030405060708090a0b0c0d0e0f10", v, sizeof(v) / sizeof(v[0]));
}

static void check_text(const char *key, const char *plain, const char *cipher_hex)
{
  unsigned char want[64], got[64];
  size_t n = strlen(plain);
  assert_int_equal(unhex(cipher_hex, want, sizeof(want)), n);
  ta_rc4_t st;
  ta_rc4_init(&st, (const unsigned char *)key, strlen(key));
  ta_rc4_crypt(&st, (const unsigned char *)plain, got, n);
  assert_memory_equal(got, want, n);
  /* decrypting is the same operation */
  ta_rc4_init(&st, (const unsigned char *)key, strlen(key));
  ta_rc4_crypt(&st, got, got, n);
  assert_memory_equal(got, plain, n);
}

static void test_classic_examples(void **state)
{
  (void)state;
  check_text("Key", "Plaintext", "bbf316e8d940af0ad3");
  check_text("Wiki", "pedia", "1021bf0420");
  check_text("Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5");
}

/* Crypting in pieces equals crypting at once (the state carries over). */
static void test_streaming(void **state)
{
  (void)state;
  unsigned char key[16] = {0x1e, 0x6e, 0x9a, 0x01};
  unsigned char a[100], b[100];
  memset(a, 'x', sizeof(a));
  memset(b, 'x', sizeof(b));
  ta_rc4_t s1, s2;
  ta_rc4_init(&s1, key, sizeof(key));
  ta_rc4_init(&s2, key, sizeof(key));
  ta_rc4_crypt(&s1, a, a, sizeof(a));
  ta_rc4_crypt(&s2, b, b, 7);
  ta_rc4_crypt(&s2, b + 7, b + 7, 60);
  ta_rc4_crypt(&s2, b + 67, b + 67, 33);
  assert_memory_equal(a, b, sizeof(a));
  ta_rc4_wipe(&s1);
  for (size_t i = 0; i < sizeof(s1.s); i++)
    assert_int_equal(s1.s[i], 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc6229_40bit_key),
    cmocka_unit_test(test_rfc6229_128bit_key),
    cmocka_unit_test(test_classic_examples),
    cmocka_unit_test(test_streaming),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Strict base64: RFC 4648 section 10 vectors, both alphabets, and every
 * way a text can be non-canonical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_b64.h"

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

static const struct { const char *plain, *padded, *unpadded; } rfc4648[] = {
  { "", "", "" },
  { "f", "Zg==", "Zg" },
  { "fo", "Zm8=", "Zm8" },
  { "foo", "Zm9v", "Zm9v" },
  { "foob", "Zm9vYg==", "Zm9vYg" },
  { "fooba", "Zm9vYmE=", "Zm9vYmE" },
  { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void expect_decode(apr_pool_t *p, ta_b64_variant_t v, const char *text,
                          const unsigned char *want, size_t want_len)
{
  unsigned char *out = NULL;
  size_t n = 99;
  assert_int_equal(ta_b64_decode(p, v, text, strlen(text), &out, &n), TA_OK);
  assert_int_equal(n, want_len);
  assert_memory_equal(out, want, want_len);
}

static void expect_reject(apr_pool_t *p, ta_b64_variant_t v, const char *text)
{
  unsigned char *out = NULL;
  size_t n = 0;
  assert_int_equal(ta_b64_decode(p, v, text, strlen(text), &out, &n), TA_E_PARAM_INVALID);
}

static void test_rfc4648_vectors(void **state)
{
  apr_pool_t *p = *state;
  for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
    const unsigned char *plain = (const unsigned char *)rfc4648[i].plain;
    size_t len = strlen(rfc4648[i].plain);
    assert_string_equal(ta_b64_encode(p, TA_B64_STD, plain, len), rfc4648[i].padded);
    assert_string_equal(ta_b64_encode(p, TA_B64_STD_NOPAD, plain, len), rfc4648[i].unpadded);
    assert_string_equal(ta_b64_encode(p, TA_B64_URL, plain, len), rfc4648[i].unpadded);
    expect_decode(p, TA_B64_STD, rfc4648[i].padded, plain, len);
    expect_decode(p, TA_B64_STD_NOPAD, rfc4648[i].unpadded, plain, len);
    expect_decode(p, TA_B64_URL, rfc4648[i].unpadded, plain, len);
  }
}

static void test_alphabets_differ(void **state)
{
  apr_pool_t *p = *state;
  const unsigned char bytes[] = { 0xfb, 0xff, 0xbf };
  assert_string_equal(ta_b64_encode(p, TA_B64_STD, bytes, 3), "+/+/");
  assert_string_equal(ta_b64_encode(p, TA_B64_URL, bytes, 3), "-_-_");
  expect_decode(p, TA_B64_STD, "+/+/", bytes, 3);
  expect_decode(p, TA_B64_URL, "-_-_", bytes, 3);
  expect_reject(p, TA_B64_STD, "-_-_");
  expect_reject(p, TA_B64_URL, "+/+/");
}

static void test_all_byte_values_round_trip(void **state)
{
  apr_pool_t *p = *state;
  unsigned char all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  for (size_t len = 0; len <= sizeof(all); len += 37) {
    for (int v = TA_B64_STD; v <= TA_B64_URL; v++) {
      char *text = ta_b64_encode(p, (ta_b64_variant_t)v, all, len);
      assert_non_null(text);
      expect_decode(p, (ta_b64_variant_t)v, text, all, len);
    }
  }
}

static void test_rejects_bad_characters(void **state)
{
  apr_pool_t *p = *state;
  expect_reject(p, TA_B64_STD, "Zm9v Yg==");
  expect_reject(p, TA_B64_STD, "Zm9v\nYg==");
  expect_reject(p, TA_B64_STD, "Zm9*");
  expect_reject(p, TA_B64_URL, "Zm9v.g");
  unsigned char *out;
  size_t n;
  /* An embedded NUL is a character outside the alphabet, not an end. */
  assert_int_equal(ta_b64_decode(p, TA_B64_STD, "Zm\0v", 4, &out, &n), TA_E_PARAM_INVALID);
}

static void test_rejects_bad_padding(void **state)
{
  apr_pool_t *p = *state;
  expect_reject(p, TA_B64_STD, "Zg");        /* padding required */
  expect_reject(p, TA_B64_STD, "Zg=");
  expect_reject(p, TA_B64_STD, "Zg===");
  expect_reject(p, TA_B64_STD, "Zm8==");     /* too much */
  expect_reject(p, TA_B64_STD, "Zm9v====");
  expect_reject(p, TA_B64_STD, "Z===");
  expect_reject(p, TA_B64_STD, "Zg==Zg==");  /* padding inside */
  expect_reject(p, TA_B64_STD, "=Zm9");
  expect_reject(p, TA_B64_STD_NOPAD, "Zg==");
  expect_reject(p, TA_B64_URL, "Zg==");
  expect_reject(p, TA_B64_URL, "Zm8=");
  expect_reject(p, TA_B64_URL, "Z");          /* a lone sextet */
  expect_reject(p, TA_B64_URL, "Zm9vY");
}

static void test_rejects_noncanonical_trailing_bits(void **state)
{
  apr_pool_t *p = *state;
  expect_reject(p, TA_B64_STD, "Zh==");   /* "Zg==" with a stray low bit */
  expect_reject(p, TA_B64_STD, "Zm9=");   /* canonical is "Zm8=" */
  expect_reject(p, TA_B64_URL, "Zh");
  expect_reject(p, TA_B64_URL, "Zm9");
  expect_reject(p, TA_B64_STD_NOPAD, "Zm9");
}

static void test_bounded(void **state)
{
  apr_pool_t *p = *state;
  size_t big = TA_B64_MAX_INPUT + 4;
  char *text = apr_palloc(p, big);
  unsigned char *out;
  size_t n;
  memset(text, 'A', big);
  assert_int_equal(ta_b64_decode(p, TA_B64_STD, text, big, &out, &n), TA_E_TOO_LARGE);
  assert_int_equal(ta_b64_decode(p, TA_B64_STD, text, TA_B64_MAX_INPUT, &out, &n), TA_OK);
  assert_int_equal(n, TA_B64_MAX_INPUT / 4 * 3);
  assert_null(ta_b64_encode(p, TA_B64_STD, (unsigned char *)text, TA_B64_MAX_INPUT));
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_rfc4648_vectors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_alphabets_differ, setup, teardown),
    cmocka_unit_test_setup_teardown(test_all_byte_values_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rejects_bad_characters, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rejects_bad_padding, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rejects_noncanonical_trailing_bits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

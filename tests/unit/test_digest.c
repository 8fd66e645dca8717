/* RFC 9530 Content-Digest: every example of the reference extraction,
 * incremental vs one-shot hashing, and distinct mismatch/malformed codes. */
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
#include <jansson.h>

#include "ta_digest.h"

#define VECTORS TA_SHARED_DIR "/reference/rfc9421/digest_vectors.json"

static const char hello[] = "{\"hello\": \"world\"}";  /* RFC 9421 test-request body */

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

static unsigned char *hex_decode(apr_pool_t *p, const char *hex, size_t *len)
{
  size_t n = strlen(hex) / 2;
  unsigned char *out = apr_palloc(p, n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned int b;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
    out[i] = (unsigned char)b;
  }
  *len = n;
  return out;
}

static ta_status_t verify_str(apr_pool_t *p, const char *field, const void *body, size_t len)
{
  return ta_digest_verify_body(p, field, strlen(field), body, len);
}

/* Expected outcome per example: a byte sequence the strict SF parser must
 * refuse makes the field invalid; else the strongest algorithm decides. */
static void test_reference_examples(void **state)
{
  apr_pool_t *p = *state;
  json_error_t jerr;
  json_t *root = json_load_file(VECTORS, 0, &jerr);
  assert_non_null(root);
  json_t *examples = json_object_get(root, "examples");
  assert_true(json_array_size(examples) >= 20);
  size_t i, n_ok = 0, n_mismatch = 0, n_invalid = 0;
  json_t *ex;
  json_array_foreach(examples, i, ex) {
    const char *field = json_string_value(json_object_get(ex, "field_value"));
    size_t body_len;
    unsigned char *body = hex_decode(p, json_string_value(json_object_get(ex, "body_hex")), &body_len);
    json_t *check = json_object_get(ex, "check");
    int strict_ok = 1;
    json_t *strongest = json_object_get(check, "sha-512");
    if (strongest == NULL)
      strongest = json_object_get(check, "sha-256");
    assert_non_null(strongest);
    const char *alg;
    json_t *c;
    json_object_foreach(check, alg, c)
      strict_ok &= json_is_true(json_object_get(c, "strict_base64_ok"));
    ta_status_t want = !strict_ok ? TA_E_DIGEST_INVALID
                       : json_is_true(json_object_get(strongest, "matches")) ? TA_OK
                       : TA_E_DIGEST_MISMATCH;
    ta_status_t got = verify_str(p, field, body, body_len);
    if (got != want)
      fail_msg("RFC 9530 %s (%s): got %d, want %d",
               json_string_value(json_object_get(ex, "rfc9530_section")),
               json_string_value(json_object_get(ex, "title")), got, want);
    n_ok += want == TA_OK;
    n_mismatch += want == TA_E_DIGEST_MISMATCH;
    n_invalid += want == TA_E_DIGEST_INVALID;

    /* The producer regenerates each valid single digest byte for byte. */
    if (strict_ok && json_is_true(json_object_get(strongest, "matches"))) {
      ta_digest_alg_t a = json_object_get(check, "sha-512") ? TA_DIGEST_SHA512 : TA_DIGEST_SHA256;
      char *want_field = apr_pstrcat(p, ta_digest_alg_name(a), "=:",
                                     json_string_value(json_object_get(strongest, "value")), ":", NULL);
      assert_string_equal(ta_digest_field_value(p, a, body, body_len), want_field);
    }
  }
  /* The extraction has all three outcomes; make sure none went missing. */
  assert_true(n_ok > 0 && n_mismatch > 0 && n_invalid > 0);
  json_decref(root);
}

static void test_appendix_d_and_rfc9421_body(void **state)
{
  apr_pool_t *p = *state;
  json_error_t jerr;
  json_t *root = json_load_file(VECTORS, 0, &jerr);
  assert_non_null(root);
  json_t *printed = json_object_get(json_object_get(root, "appendix_d"), "printed");
  const char *names[] = { "sha-256", "sha-512" };
  const ta_digest_alg_t algs[] = { TA_DIGEST_SHA256, TA_DIGEST_SHA512 };
  for (int i = 0; i < 2; i++) {
    const char *v = json_string_value(json_object_get(printed, names[i]));
    char *want = apr_pstrcat(p, names[i], "=", v, NULL);
    assert_string_equal(ta_digest_field_value(p, algs[i], hello, strlen(hello)), want);
    assert_int_equal(verify_str(p, want, hello, strlen(hello)), TA_OK);
  }
  /* The RFC 9421 test-request's own header. */
  assert_int_equal(verify_str(p, "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
                              hello, strlen(hello)), TA_OK);
  json_decref(root);
}

static void test_incremental_equals_one_shot(void **state)
{
  apr_pool_t *p = *state;
  unsigned char body[3001];
  for (size_t i = 0; i < sizeof(body); i++)
    body[i] = (unsigned char)(i * 7 + 3);
  const size_t chunks[] = { 1, 7, 64, 1000, sizeof(body) };
  for (int a = TA_DIGEST_SHA256; a <= TA_DIGEST_SHA512; a++) {
    char *one_shot = ta_digest_field_value(p, (ta_digest_alg_t)a, body, sizeof(body));
    assert_non_null(one_shot);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
      ta_digest_t *d;
      assert_int_equal(ta_digest_create(p, (ta_digest_alg_t)a, &d), TA_OK);
      assert_int_equal(ta_digest_get_alg(d), a);
      for (size_t off = 0; off < sizeof(body); off += chunks[c]) {
        size_t n = sizeof(body) - off < chunks[c] ? sizeof(body) - off : chunks[c];
        assert_int_equal(ta_digest_update(d, body + off, n), TA_OK);
      }
      assert_string_equal(ta_digest_field_value_final(p, d), one_shot);
      /* A finished hasher refuses more data. */
      assert_int_equal(ta_digest_update(d, body, 1), TA_E_INTERNAL);

      ta_digest_expect_t e;
      assert_int_equal(ta_digest_parse(p, one_shot, strlen(one_shot), &e), TA_OK);
      assert_int_equal(e.alg, a);
      assert_int_equal(e.len, ta_digest_alg_len((ta_digest_alg_t)a));
      assert_int_equal(ta_digest_create(p, (ta_digest_alg_t)a, &d), TA_OK);
      for (size_t off = 0; off < sizeof(body); off += chunks[c]) {
        size_t n = sizeof(body) - off < chunks[c] ? sizeof(body) - off : chunks[c];
        assert_int_equal(ta_digest_update(d, body + off, n), TA_OK);
      }
      assert_int_equal(ta_digest_check(&e, d), TA_OK);
    }
  }
}

static void test_mismatch_and_malformed_are_distinct(void **state)
{
  apr_pool_t *p = *state;
  const char *good256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
  size_t len = strlen(hello);
  assert_int_equal(verify_str(p, good256, hello, len), TA_OK);
  assert_int_equal(verify_str(p, good256, hello, len - 1), TA_E_DIGEST_MISMATCH);
  assert_int_equal(verify_str(p, good256, "", 0), TA_E_DIGEST_MISMATCH);

  const char *malformed[] = {
    "",
    "sha-256",                                            /* boolean true, not bytes */
    "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",  /* not a byte sequence */
    "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"",
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DB==:",  /* wrong length */
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9D*PE=:",  /* bad base64 */
    "sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)",
    "md5=:Sd/dVLAcvNLSq16eXua5uQ==:",                     /* nothing supported */
    "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",  /* keys are lower case */
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,",
  };
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
    if (verify_str(p, malformed[i], hello, len) != TA_E_DIGEST_INVALID)
      fail_msg("accepted malformed Content-Digest #%zu: %s", i, malformed[i]);

  /* Unknown algorithms next to a supported one are ignored. */
  assert_int_equal(verify_str(p, "md5=:Sd/dVLAcvNLSq16eXua5uQ==:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                              hello, len), TA_OK);
  /* Parameters on a member do not change the value. */
  assert_int_equal(verify_str(p, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;x=1", hello, len), TA_OK);

  /* Over-long fields are refused before parsing. */
  char *huge = apr_palloc(p, TA_DIGEST_MAX_FIELD + 100);
  memset(huge, ' ', TA_DIGEST_MAX_FIELD + 99);
  memcpy(huge + TA_DIGEST_MAX_FIELD + 99 - strlen(good256), good256, strlen(good256));
  huge[TA_DIGEST_MAX_FIELD + 99] = '\0';
  assert_int_equal(verify_str(p, huge, hello, len), TA_E_DIGEST_INVALID);
}

/* With both present, sha-512 decides: a correct sha-256 cannot rescue a
 * wrong sha-512 (no downgrade to the weaker value). */
static void test_strongest_algorithm_wins(void **state)
{
  apr_pool_t *p = *state;
  size_t len = strlen(hello);
  const char *good256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
  char *good512 = ta_digest_field_value(p, TA_DIGEST_SHA512, hello, len);
  char *bad512 = ta_digest_field_value(p, TA_DIGEST_SHA512, "x", 1);
  assert_int_equal(verify_str(p, apr_pstrcat(p, good256, ", ", bad512, NULL), hello, len), TA_E_DIGEST_MISMATCH);
  assert_int_equal(verify_str(p, apr_pstrcat(p, bad512, ", ", good256, NULL), hello, len), TA_E_DIGEST_MISMATCH);
  assert_int_equal(verify_str(p, apr_pstrcat(p, "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:, ", good512, NULL), hello, len), TA_OK);

  ta_digest_expect_t e;
  const char *both = apr_pstrcat(p, good256, ",", good512, NULL);
  assert_int_equal(ta_digest_parse(p, both, strlen(both), &e), TA_OK);
  assert_int_equal(e.alg, TA_DIGEST_SHA512);
  /* A hasher of the wrong algorithm is a caller bug, not a mismatch. */
  ta_digest_t *d;
  assert_int_equal(ta_digest_create(p, TA_DIGEST_SHA256, &d), TA_OK);
  assert_int_equal(ta_digest_check(&e, d), TA_E_INTERNAL);
}

static void test_alg_names(void **state)
{
  (void)state;
  assert_int_equal(ta_digest_alg_from_name("sha-256"), TA_DIGEST_SHA256);
  assert_int_equal(ta_digest_alg_from_name("sha-512"), TA_DIGEST_SHA512);
  assert_int_equal(ta_digest_alg_from_name("sha"), TA_DIGEST_NONE);
  assert_int_equal(ta_digest_alg_from_name("md5"), TA_DIGEST_NONE);
  assert_int_equal(ta_digest_alg_from_name(NULL), TA_DIGEST_NONE);
  assert_string_equal(ta_digest_alg_name(TA_DIGEST_SHA512), "sha-512");
  assert_null(ta_digest_alg_name(TA_DIGEST_NONE));
  assert_int_equal(ta_digest_alg_len(TA_DIGEST_SHA256), 32);
  assert_int_equal(ta_digest_alg_len(TA_DIGEST_SHA512), 64);
  ta_digest_t *d;
  assert_int_equal(ta_digest_create(*state, TA_DIGEST_NONE, &d), TA_E_DIGEST_INVALID);
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_reference_examples, setup, teardown),
    cmocka_unit_test_setup_teardown(test_appendix_d_and_rfc9421_body, setup, teardown),
    cmocka_unit_test_setup_teardown(test_incremental_equals_one_shot, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mismatch_and_malformed_are_distinct, setup, teardown),
    cmocka_unit_test_setup_teardown(test_strongest_algorithm_wins, setup, teardown),
    cmocka_unit_test_setup_teardown(test_alg_names, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

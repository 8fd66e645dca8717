#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ta_error.h"

static const ta_status_t all_codes[] = {
#define TA_X_CODE(e, n, tok, st, sum, fix) e,
  TA_ERROR_TABLE(TA_X_CODE)
#undef TA_X_CODE
};
#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

/* Tokens are the wire contract: each maps back to its own code, none twice. */
static void test_tokens_round_trip_and_are_unique(void **state)
{
  (void)state;
  for (size_t i = 0; i < N_CODES; i++) {
    const char *tok = ta_error_token(all_codes[i]);
    assert_int_equal(ta_error_from_token(tok), (int)all_codes[i]);
    for (size_t j = i + 1; j < N_CODES; j++) {
      assert_int_not_equal(all_codes[i], all_codes[j]);
      assert_string_not_equal(tok, ta_error_token(all_codes[j]));
    }
  }
}

static void test_statuses_are_sane(void **state)
{
  (void)state;
  assert_int_equal(ta_error_http_status(TA_E_BAD_SIGNATURE), 401);
  assert_int_equal(ta_error_http_status(TA_E_IP_NOT_ALLOWED), 403);
  assert_int_equal(ta_error_http_status(TA_E_REPLAY_UNAVAILABLE), 503);
  for (size_t i = 1; i < N_CODES; i++) {
    int st = ta_error_http_status(all_codes[i]);
    assert_true(st >= 400 && st <= 599);
    assert_true(strlen(ta_error_fix(all_codes[i])) > 0);
  }
}

static void test_unknown_values(void **state)
{
  (void)state;
  assert_string_equal(ta_error_token((ta_status_t)424242), "unknown");
  assert_int_equal(ta_error_http_status((ta_status_t)424242), 500);
  assert_int_equal(ta_error_from_token("no-such-token"), -1);
  assert_int_equal(ta_error_from_token(NULL), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tokens_round_trip_and_are_unique),
    cmocka_unit_test(test_statuses_are_sane),
    cmocka_unit_test(test_unknown_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

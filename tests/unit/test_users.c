#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_users.h"

#include "test_pool.h"

static ta_user_rules_t *rules(const char *const *allow, size_t na, const char *const *deny, size_t nd)
{
  ta_user_rules_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(ta_user_rules_parse(pool, allow, na, deny, nd, &r, &err), TA_OK);
  assert_non_null(r);
  return r;
}

static void test_empty_allow_means_any_not_denied(void **state)
{
  (void)state;
  ta_user_rules_t *r = rules(NULL, 0, NULL, 0);
  assert_int_equal(ta_user_check(r, "alice"), TA_OK);
  assert_int_equal(ta_user_check(r, "bob.smith@example.com"), TA_OK);
  assert_int_equal(ta_user_check(NULL, "alice"), TA_OK);
}

static void test_builtin_denials(void **state)
{
  (void)state;
  ta_user_rules_t *r = rules(NULL, 0, NULL, 0);
  const char *denied[] = {"root", "admin", "administrator", "Root", "ADMIN", "Administrator"};
  for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
    assert_int_equal(ta_user_check(r, denied[i]), TA_E_USER_DENIED);
    assert_int_equal(ta_user_check(NULL, denied[i]), TA_E_USER_DENIED);
  }
  assert_int_equal(ta_user_check(r, "admins"), TA_OK);
  assert_int_equal(ta_user_check(r, "rooted"), TA_OK);

  /* a wildcard in allow does not lift a built-in denial, an exact entry does */
  const char *wild[] = {"*", "ad*"};
  ta_user_rules_t *w = rules(wild, 2, NULL, 0);
  assert_int_equal(ta_user_check(w, "admin"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(w, "alice"), TA_OK);
  const char *exact[] = {"admin", "alice"};
  ta_user_rules_t *e = rules(exact, 2, NULL, 0);
  assert_int_equal(ta_user_check(e, "admin"), TA_OK);
  assert_int_equal(ta_user_check(e, "Admin"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(e, "root"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(e, "bob"), TA_E_USER_DENIED);
}

static void test_allow_list(void **state)
{
  (void)state;
  const char *allow[] = {"alice", "svc-*", "bob"};
  ta_user_rules_t *r = rules(allow, 3, NULL, 0);
  assert_int_equal(ta_user_check(r, "alice"), TA_OK);
  assert_int_equal(ta_user_check(r, "bob"), TA_OK);
  assert_int_equal(ta_user_check(r, "svc-"), TA_OK);
  assert_int_equal(ta_user_check(r, "svc-build"), TA_OK);
  assert_int_equal(ta_user_check(r, "svc"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(r, "alicex"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(r, "Alice"), TA_E_USER_DENIED); /* case-sensitive */
  assert_int_equal(ta_user_check(r, "carol"), TA_E_USER_DENIED);
}

static void test_deny_wins(void **state)
{
  (void)state;
  const char *allow[] = {"svc-*", "alice"};
  const char *deny[] = {"svc-root*", "alice"};
  ta_user_rules_t *r = rules(allow, 2, deny, 2);
  assert_int_equal(ta_user_check(r, "svc-build"), TA_OK);
  assert_int_equal(ta_user_check(r, "svc-root"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(r, "svc-rootless"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(r, "alice"), TA_E_USER_DENIED);

  const char *allow_admin[] = {"admin"};
  const char *deny_admin[] = {"admin"};
  ta_user_rules_t *a = rules(allow_admin, 1, deny_admin, 1);
  assert_int_equal(ta_user_check(a, "admin"), TA_E_USER_DENIED);

  const char *deny_all[] = {"*"};
  ta_user_rules_t *d = rules(NULL, 0, deny_all, 1);
  assert_int_equal(ta_user_check(d, "alice"), TA_E_USER_DENIED);
}

static void test_invalid_users(void **state)
{
  (void)state;
  ta_user_rules_t *r = rules(NULL, 0, NULL, 0);
  char long_name[TA_USER_MAX_LEN + 2];
  memset(long_name, 'a', sizeof(long_name));
  long_name[TA_USER_MAX_LEN + 1] = '\0';
  const char *bad[] = {NULL, "", "a\tb", "a\nb", "a\rb", "a\x7f", "a\x01",
                       "\xc3", "\xc3\x28", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                       "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xc2\x85", "\xff", long_name};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (ta_user_check(r, bad[i]) != TA_E_USER_INVALID)
      fail_msg("invalid user #%zu accepted", i);
  long_name[TA_USER_MAX_LEN] = '\0';
  assert_int_equal(ta_user_check(r, long_name), TA_OK);
  assert_int_equal(ta_user_check(r, "J\xc3\xbcrgen \xe6\x97\xa5\xf0\x9f\x98\x80"), TA_OK);
}

static void test_bad_entries(void **state)
{
  (void)state;
  const char *bad[] = {"", "a*b", "*a", "a**", "a\nb", "\xc3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ta_user_rules_t *r = NULL;
    const char *err = NULL;
    const char *list[] = {"ok", bad[i]};
    if (ta_user_rules_parse(pool, list, 2, NULL, 0, &r, &err) != TA_E_CONFIG)
      fail_msg("allow entry #%zu accepted", i);
    assert_non_null(err);
    if (ta_user_rules_parse(pool, NULL, 0, list, 2, &r, &err) != TA_E_CONFIG)
      fail_msg("deny entry #%zu accepted", i);
    assert_non_null(strstr(err, "deny"));
  }
}

static void test_many_entries(void **state)
{
  (void)state;
  enum { N = 1000 };
  const char **allow = apr_pcalloc(pool, N * sizeof(char *));
  for (int i = 0; i < N; i++)
    allow[i] = i % 2 ? apr_psprintf(pool, "user%d", i) : apr_psprintf(pool, "team%d-*", i);
  ta_user_rules_t *r = rules(allow, N, NULL, 0);
  for (int i = 0; i < N; i++) {
    if (i % 2) {
      assert_int_equal(ta_user_check(r, apr_psprintf(pool, "user%d", i)), TA_OK);
      assert_int_equal(ta_user_check(r, apr_psprintf(pool, "user%dx", i)), TA_E_USER_DENIED);
    } else {
      assert_int_equal(ta_user_check(r, apr_psprintf(pool, "team%d-x", i)), TA_OK);
      assert_int_equal(ta_user_check(r, apr_psprintf(pool, "team%dx", i)), TA_E_USER_DENIED);
    }
  }
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_empty_allow_means_any_not_denied, setup, teardown),
    cmocka_unit_test_setup_teardown(test_builtin_denials, setup, teardown),
    cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deny_wins, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_users, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
    cmocka_unit_test_setup_teardown(test_many_entries, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

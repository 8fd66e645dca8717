/* trustapp-admin keygen (tools/cmd_keys.c, run through ta_cmd_keygen): the
 * private key file's mode and replacement rules, the public half and its
 * fingerprint in the result, and the refused option combinations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ta_cli.h"
#include "ta_keys.h"

#include "test_tool_fixture.h"

static int setup(void **state)
{
  (void)state;
  umask(022);  /* the modes asserted below are the ones the tool asks for */
  return tool_fixture_open("tool_keygen");
}

static int teardown(void **state)
{
  (void)state;
  return tool_fixture_close();
}

static ta_cli_t *new_cli(void)
{
  return new_cli_context();
}

static const char *result_string(const ta_cli_t *c, const char *key)
{
  return json_string_value(json_object_get(c->result, key));
}

static char *slurp(ta_cli_t *c, const char *path, size_t *len)
{
  char *data;
  const char *err;
  assert_int_equal(ta_cli_read_file(c, path, 1 << 20, &data, len, &err), 0);
  return data;
}

/* The private key written loads, and its public half and fingerprint are the result's. */
static void check_key_pair(ta_cli_t *c, const char *path, ta_alg_t alg)
{
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  size_t len;
  char *pem = slurp(c, path, &len);
  ta_key_t *priv;
  assert_int_equal(ta_key_load_private(pool, pem, len, alg, &priv, NULL), TA_OK);
  assert_int_equal(ta_key_alg(priv), alg);
  assert_string_equal(result_string(c, "public_key"), ta_key_public_pem(pool, priv));
  assert_string_equal(result_string(c, "fingerprint"), ta_key_fingerprint(pool, priv));
  assert_string_equal(result_string(c, "alg"), ta_alg_name(alg));
  assert_string_equal(result_string(c, "private_key_file"), path);
  /* the public key can be registered: it loads as a public key, without private parts */
  const char *pub = result_string(c, "public_key");
  ta_key_t *k;
  assert_int_equal(ta_key_load_public(pool, pub, strlen(pub), alg, &k, NULL), TA_OK);
  assert_null(strstr(c->text, "PRIVATE"));
}

static void test_default_ed25519(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  const char *out = scratch("self.key");
  opt(c, "out", out);
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_OK);
  assert_null(c->error);
  check_key_pair(c, out, TA_ALG_ED25519);
  assert_null(json_object_get(c->result, "bits"));
  assert_null(json_object_get(c->result, "public_key_file"));
  assert_non_null(strstr(c->text, "fingerprint: "));
  assert_non_null(strstr(c->text, "-----BEGIN PUBLIC KEY-----"));
  free_cli(c);
}

static void test_algorithms_and_public_out(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  const char *out = scratch("p384.key"), *pub_out = scratch("p384.pub");
  opt(c, "alg", "ecdsa-p384");
  opt(c, "out", out);
  opt(c, "public-out", pub_out);
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_OK);
  check_key_pair(c, out, TA_ALG_ECDSA_P384_SHA384);
  assert_string_equal(result_string(c, "public_key_file"), pub_out);
  size_t len;
  assert_string_equal(slurp(c, pub_out, &len), result_string(c, "public_key"));
  struct stat st;
  assert_int_equal(stat(pub_out, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  free_cli(c);

  c = new_cli();
  out = scratch("rsa.key");
  opt(c, "alg", "rsa-v1_5");
  opt(c, "bits", "2048");
  opt(c, "out", out);
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_OK);
  check_key_pair(c, out, TA_ALG_RSA_V1_5_SHA256);
  assert_int_equal(json_integer_value(json_object_get(c->result, "bits")), 2048);
  free_cli(c);
}

static void test_existing_file(void **state)
{
  (void)state;
  const char *out = scratch("existing.key");
  FILE *f = fopen(out, "w");
  fputs("old contents\n", f);
  fclose(f);
  chmod(out, 0644);

  ta_cli_t *c = new_cli();
  opt(c, "out", out);
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "write-failed");
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "fix")), "--force"));
  size_t len;
  assert_string_equal(slurp(c, out, &len), "old contents\n");
  free_cli(c);

  /* --force replaces the file: the old, looser mode is not kept */
  c = new_cli();
  opt(c, "out", out);
  opt(c, "force", "1");
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_OK);
  check_key_pair(c, out, TA_ALG_ED25519);
  free_cli(c);

  /* --force where nothing exists yet is fine */
  c = new_cli();
  opt(c, "out", scratch("fresh.key"));
  opt(c, "force", "1");
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_OK);
  free_cli(c);
}

static void test_refusals(void **state)
{
  (void)state;
  static const struct { const char *alg, *bits, *in_message; } bad[] = {
    {"dsa", NULL, "unknown algorithm 'dsa'"},
    {"hmac-sha256", NULL, "unknown algorithm"},
    {"ed25519", "2048", "not valid for ed25519"},
    {"ecdsa-p256", "256", "not valid for ecdsa-p256-sha256"},
    {"rsa", "1024", "outside 2048..16384"},
    {"rsa", "2047", "outside 2048..16384"},
    {"rsa", "16385", "outside 2048..16384"},
    {"rsa", "3072bits", "is not valid"},
    {"rsa", "-4096", "outside"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ta_cli_t *c = new_cli();
    const char *out = scratch(apr_psprintf(pool, "refused-%zu.key", i));
    opt(c, "alg", bad[i].alg);
    if (bad[i].bits)
      opt(c, "bits", bad[i].bits);
    opt(c, "out", out);
    int rc = ta_cmd_keygen.run(c);
    const char *msg = c->error ? json_string_value(json_object_get(c->error, "message")) : "(none)";
    if (rc != TA_EXIT_USAGE || strstr(msg, bad[i].in_message) == NULL)
      fail_msg("--alg %s --bits %s: exit %d, '%s'", bad[i].alg, bad[i].bits ? bad[i].bits : "-", rc, msg);
    assert_int_equal(access(out, F_OK), -1);  /* nothing written */
    free_cli(c);
  }
  ta_cli_t *c = new_cli();
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_USAGE);
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "message")), "--out"));
  free_cli(c);

  c = new_cli();
  opt(c, "out", scratch("no/such/dir/k.key"));
  assert_int_equal(ta_cmd_keygen.run(c), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "write-failed");
  free_cli(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_default_ed25519),
    cmocka_unit_test(test_algorithms_and_public_out),
    cmocka_unit_test(test_existing_file),
    cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* trustapp-admin command framework (tools/ta_cli.c, tools/ta_cli_out.c):
 * option access, failure records, duration parsing, bounded file reading
 * and writing, algorithm names, private key loading, and the text/JSON
 * rendering of a command's result and error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ta_cli.h"
#include "ta_error.h"
#include "ta_keys.h"

#include "test_tool_fixture.h"

static int setup(void **state)
{
  (void)state;
  return tool_fixture_open("tool_cli");
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

static void write_bytes(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* ---- option access ---- */

static void test_opt_last_value_wins(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  opt(c, "ip", "10.0.0.1");
  opt(c, "name", "Wiki");
  opt(c, "ip", "10.0.0.2");
  assert_string_equal(ta_cli_opt(c, "ip"), "10.0.0.2");
  assert_string_equal(ta_cli_opt(c, "name"), "Wiki");
  assert_null(ta_cli_opt(c, "path"));
  /* whole-name comparison: a prefix of a given option is not that option */
  assert_null(ta_cli_opt(c, "i"));
  assert_null(ta_cli_opt(c, "ipx"));
  free_cli(c);
}

static void test_opt_all_keeps_order(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  opt(c, "path", "/rest");
  opt(c, "ip", "10.0.0.1");
  opt(c, "path", "/api");
  opt(c, "path", "/rest");
  apr_array_header_t *all = ta_cli_opt_all(c, "path");
  assert_int_equal(all->nelts, 3);
  assert_string_equal(APR_ARRAY_IDX(all, 0, const char *), "/rest");
  assert_string_equal(APR_ARRAY_IDX(all, 1, const char *), "/api");
  assert_string_equal(APR_ARRAY_IDX(all, 2, const char *), "/rest");
  assert_int_equal(ta_cli_opt_all(c, "user-deny")->nelts, 0);
  free_cli(c);
}

static void test_flag_and_args(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  opt(c, "disabled", "1");
  assert_true(ta_cli_flag(c, "disabled"));
  assert_false(ta_cli_flag(c, "json"));
  APR_ARRAY_PUSH(c->args, const char *) = "app-1";
  APR_ARRAY_PUSH(c->args, const char *) = "key.pem";
  assert_string_equal(ta_cli_arg(c, 0), "app-1");
  assert_string_equal(ta_cli_arg(c, 1), "key.pem");
  assert_null(ta_cli_arg(c, 2));
  assert_null(ta_cli_arg(c, 99));
  free_cli(c);
}

/* ---- failure records ---- */

static void test_fail_records_token_message_fix(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  assert_int_equal(ta_cli_fail(c, TA_EXIT_REGISTRY, "registry-invalid", "run validate",
                               "%s:%d: bad <%s>", "reg.xml", 12, "timeout"),
                   TA_EXIT_REGISTRY);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "registry-invalid");
  assert_string_equal(json_string_value(json_object_get(c->error, "message")), "reg.xml:12: bad <timeout>");
  assert_string_equal(json_string_value(json_object_get(c->error, "fix")), "run validate");
  free_cli(c);
}

static void test_fail_defaults_and_replaces(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  ta_cli_fail(c, TA_EXIT_FAILED, "first", "first fix", "first");
  /* a later failure replaces the earlier one entirely (no stale fix) */
  assert_int_equal(ta_cli_fail(c, TA_EXIT_USAGE, NULL, "", "second %d", 2), TA_EXIT_USAGE);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "failed");
  assert_string_equal(json_string_value(json_object_get(c->error, "message")), "second 2");
  assert_null(json_object_get(c->error, "fix"));
  assert_int_equal(json_object_size(c->error), 2);
  ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "third");
  assert_null(json_object_get(c->error, "fix"));
  free_cli(c);
}

/* ---- durations ---- */

static void test_duration_units(void **state)
{
  (void)state;
  static const struct { const char *text; long long ms; } ok[] = {
    {"0", 0}, {"1", 1}, {"250", 250}, {"250ms", 250}, {"5s", 5000}, {"2m", 120000},
    {"3h", 10800000}, {"007", 7}, {"1000000000000", 1000000000000LL},
    {"1000000000s", 1000000000000LL}, {"277777h", 999997200000LL}
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    long long v = -1;
    assert_int_equal(ta_cli_parse_duration_ms(ok[i].text, &v), 0);
    assert_true(v == ok[i].ms);
  }
}

static void test_duration_refusals(void **state)
{
  (void)state;
  static const char *const bad[] = {
    "", "-1", "+5", " 5", "5 ", "5 s", "5x", "5sec", "5S", "5mss", "s", "ms", "1.5s", "0x10",
    "1e3", "1000000000001", "1000000001s", "16666667m", "277778h", "99999999999999999999",
    "5\n"
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long long v = 42;
    if (ta_cli_parse_duration_ms(bad[i], &v) == 0)
      fail_msg("accepted '%s' as %lld ms", bad[i], v);
    assert_true(v == 42);  /* untouched on refusal */
  }
  long long v = 42;
  assert_int_equal(ta_cli_parse_duration_ms(NULL, &v), -1);
  assert_true(v == 42);
}

/* ---- files ---- */

static void test_read_file_bounds(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  const char *path = scratch("ten");
  write_bytes(path, "0123456789", 10);
  char *data = NULL;
  size_t len = 99;
  const char *err = NULL;
  assert_int_equal(ta_cli_read_file(c, path, 10, &data, &len, &err), 0);
  assert_int_equal(len, 10);
  assert_memory_equal(data, "0123456789", 11);  /* NUL-terminated */

  err = NULL;
  assert_int_equal(ta_cli_read_file(c, path, 9, &data, &len, &err), -1);
  assert_non_null(err);
  assert_non_null(strstr(err, "larger than 9 bytes"));

  const char *empty = scratch("empty");
  write_bytes(empty, "", 0);
  assert_int_equal(ta_cli_read_file(c, empty, 10, &data, &len, &err), 0);
  assert_int_equal(len, 0);
  assert_string_equal(data, "");

  /* embedded NUL bytes are kept, the length says how many */
  const char *binary = scratch("binary");
  write_bytes(binary, "a\0b", 3);
  assert_int_equal(ta_cli_read_file(c, binary, 10, &data, &len, &err), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(data, "a\0b", 4);
  free_cli(c);
}

static void test_read_file_refusals(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  char *data = NULL;
  size_t len = 0;
  const char *err = NULL;
  const char *missing = scratch("missing");
  assert_int_equal(ta_cli_read_file(c, missing, 100, &data, &len, &err), -1);
  assert_non_null(strstr(err, "cannot open"));
  assert_non_null(strstr(err, missing));
  assert_null(data);

  err = NULL;
  assert_int_equal(ta_cli_read_file(c, scratch_dir, 1 << 20, &data, &len, &err), -1);
  assert_non_null(strstr(err, "is not a regular file"));

  /* a device never reaches the unbounded read loop */
  err = NULL;
  assert_int_equal(ta_cli_read_file(c, "/dev/zero", 1 << 20, &data, &len, &err), -1);
  assert_non_null(strstr(err, "is not a regular file"));
  assert_null(data);
  free_cli(c);
}

static void test_write_file_modes(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  const char *path = scratch("written.pem");
  const char *err = NULL;
  assert_int_equal(ta_cli_write_file(c, path, "secret-ish\n", 11, 0600, 1, &err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_size, 11);

  /* exclusive: an existing file is never replaced */
  err = NULL;
  assert_int_equal(ta_cli_write_file(c, path, "other", 5, 0644, 1, &err), -1);
  assert_non_null(err);
  assert_non_null(strstr(err, "cannot create"));
  char *data;
  size_t len;
  assert_int_equal(ta_cli_read_file(c, path, 100, &data, &len, &err), 0);
  assert_string_equal(data, "secret-ish\n");

  /* not exclusive: replaced and truncated to the new length */
  assert_int_equal(ta_cli_write_file(c, path, "short", 5, 0600, 0, &err), 0);
  assert_int_equal(ta_cli_read_file(c, path, 100, &data, &len, &err), 0);
  assert_int_equal(len, 5);
  assert_string_equal(data, "short");

  err = NULL;
  assert_int_equal(ta_cli_write_file(c, scratch("no/such/dir"), "x", 1, 0600, 0, &err), -1);
  assert_non_null(err);
  free_cli(c);
}

/* ---- algorithms and keys ---- */

static void test_alg_names(void **state)
{
  (void)state;
  assert_int_equal(ta_cli_alg("ed25519"), TA_ALG_ED25519);
  assert_int_equal(ta_cli_alg("ecdsa-p256"), TA_ALG_ECDSA_P256_SHA256);
  assert_int_equal(ta_cli_alg("ecdsa-p256-sha256"), TA_ALG_ECDSA_P256_SHA256);
  assert_int_equal(ta_cli_alg("ecdsa-p384"), TA_ALG_ECDSA_P384_SHA384);
  assert_int_equal(ta_cli_alg("ecdsa-p384-sha384"), TA_ALG_ECDSA_P384_SHA384);
  assert_int_equal(ta_cli_alg("rsa"), TA_ALG_RSA_PSS_SHA512);
  assert_int_equal(ta_cli_alg("rsa-pss"), TA_ALG_RSA_PSS_SHA512);
  assert_int_equal(ta_cli_alg("rsa-pss-sha512"), TA_ALG_RSA_PSS_SHA512);
  assert_int_equal(ta_cli_alg("rsa-v1_5"), TA_ALG_RSA_V1_5_SHA256);
  assert_int_equal(ta_cli_alg("rsa-v1_5-sha256"), TA_ALG_RSA_V1_5_SHA256);
  /* HMAC is for test vectors only: never selectable from the command line */
  assert_int_equal(ta_cli_alg("hmac-sha256"), TA_ALG_NONE);
  assert_int_equal(ta_cli_alg(NULL), TA_ALG_NONE);
  assert_int_equal(ta_cli_alg(""), TA_ALG_NONE);
  assert_int_equal(ta_cli_alg("ED25519"), TA_ALG_NONE);
  assert_int_equal(ta_cli_alg("rsa-v1_5-sha"), TA_ALG_NONE);
  assert_int_equal(ta_cli_alg("ecdsa"), TA_ALG_NONE);
}

static const char *write_private_key(const char *name, const char *type, size_t rsa_bits)
{
  EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", rsa_bits)
                                         : EVP_PKEY_Q_keygen(NULL, NULL, type);
  assert_non_null(k);
  const char *path = scratch(name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  EVP_PKEY_free(k);
  return path;
}

static void test_load_private_key(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  const char *ed = write_private_key("ed.pem", "ED25519", 0);
  struct ta_key *key = NULL;
  assert_int_equal(ta_cli_load_private_key(c, ed, NULL, &key), TA_EXIT_OK);
  assert_non_null(key);
  assert_int_equal(ta_key_alg(key), TA_ALG_ED25519);
  assert_null(c->error);

  key = NULL;
  assert_int_equal(ta_cli_load_private_key(c, ed, "ed25519", &key), TA_EXIT_OK);
  assert_non_null(key);
  free_cli(c);
}

static void test_load_private_key_refusals(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  struct ta_key *key = NULL;
  const char *ed = write_private_key("ed2.pem", "ED25519", 0);

  /* an unknown algorithm is a usage error, before the file is read */
  assert_int_equal(ta_cli_load_private_key(c, scratch("absent.pem"), "rsa-sha1", &key), TA_EXIT_USAGE);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "usage");
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "message")), "'rsa-sha1'"));
  assert_int_equal(ta_cli_load_private_key(c, ed, "hmac-sha256", &key), TA_EXIT_USAGE);
  assert_null(key);

  assert_int_equal(ta_cli_load_private_key(c, scratch("absent.pem"), NULL, &key), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "key-unreadable");

  const char *garbage = scratch("garbage.pem");
  write_bytes(garbage, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58);
  assert_int_equal(ta_cli_load_private_key(c, garbage, NULL, &key), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")),
                      ta_error_token(TA_E_KEY_INVALID));
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "message")), garbage));
  assert_null(key);

  /* an RSA key without --alg: the fix names the two RSA algorithms */
  const char *rsa = write_private_key("rsa.pem", "RSA", 2048);
  assert_int_equal(ta_cli_load_private_key(c, rsa, NULL, &key), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "fix")),
                      "an RSA key needs --alg rsa-pss-sha512 or rsa-v1_5-sha256");
  assert_null(key);
  key = NULL;
  assert_int_equal(ta_cli_load_private_key(c, rsa, "rsa-v1_5", &key), TA_EXIT_OK);
  assert_int_equal(ta_key_alg(key), TA_ALG_RSA_V1_5_SHA256);

  /* a key of another algorithm than the one asked for is refused with the table's fix */
  key = NULL;
  assert_int_equal(ta_cli_load_private_key(c, ed, "ecdsa-p256", &key), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "fix")), ta_error_fix(TA_E_KEY_INVALID));
  free_cli(c);
}

/* ---- output ---- */

/* Runs ta_out_render with stdout and stderr redirected into files and
 * returns what each received. */
static void render_captured(ta_cli_t *c, int exit_code, char **out, char **err)
{
  const char *out_path = scratch("stdout"), *err_path = scratch("stderr");
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(saved_out >= 0 && saved_err >= 0 && fo >= 0 && fe >= 0);
  dup2(fo, 1);
  dup2(fe, 2);
  close(fo);
  close(fe);
  ta_out_render(c, exit_code);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  size_t len;
  const char *e;
  assert_int_equal(ta_cli_read_file(c, out_path, 1 << 20, out, &len, &e), 0);
  assert_int_equal(ta_cli_read_file(c, err_path, 1 << 20, err, &len, &e), 0);
}

static json_t *sample_result(void)
{
  return json_pack("{s:s, s:s, s:b, s:b, s:n, s:i, s:[], s:[s,s], s:{s:s, s:i}, s:[{s:s, s:s}, {s:s}], s:[i, {s:s}]}",
                   "command", "show", "id", "app-1", "enabled", 1, "seraph", 0, "cert", "timeout_ms", 5000,
                   "ips", "paths", "/rest", "/api", "key", "alg", "ed25519", "bits", 256,
                   "keys", "fp", "ab", "alg", "ed25519", "fp", "cd", "mixed", 7, "k", "v");
}

static void test_render_text(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  json_decref(c->result);
  c->result = sample_result();
  char *out, *err;
  render_captured(c, TA_EXIT_OK, &out, &err);
  assert_string_equal(out,
                      "id: app-1\n"
                      "enabled: yes\n"
                      "seraph: no\n"
                      "cert: -\n"
                      "timeout_ms: 5000\n"
                      "ips: (none)\n"
                      "paths: /rest, /api\n"
                      "key:\n"
                      "  alg: ed25519\n"
                      "  bits: 256\n"
                      "keys:\n"
                      "  - fp: ab\n"
                      "    alg: ed25519\n"
                      "  - fp: cd\n"
                      "mixed:\n"
                      "  - 7\n"
                      "  - k: v\n");
  assert_string_equal(err, "");
  /* the rendering works on a copy: the result still names its command */
  assert_string_equal(json_string_value(json_object_get(c->result, "command")), "show");
  free_cli(c);
}

static void test_render_text_override_and_error(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  json_object_set_new(c->result, "id", json_string("ignored-in-text"));
  ta_out_textf(c, "line %d\n", 1);
  ta_out_textf(c, "%s\n", "line 2");
  ta_cli_fail(c, TA_EXIT_NETWORK, "expired", "renew it", "the certificate expired");
  char *out, *err;
  render_captured(c, TA_EXIT_NETWORK, &out, &err);
  assert_string_equal(out, "line 1\nline 2\n");
  assert_string_equal(err, "trustapp-admin: error (expired): the certificate expired\n  fix: renew it\n");

  ta_cli_fail(c, TA_EXIT_FAILED, NULL, NULL, "no fix");
  render_captured(c, TA_EXIT_FAILED, &out, &err);
  assert_string_equal(err, "trustapp-admin: error (failed): no fix\n");
  free_cli(c);
}

static void test_render_json(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  c->json = 1;
  json_object_set_new(c->result, "command", json_string("validate"));
  json_object_set_new(c->result, "count", json_integer(3));
  ta_out_textf(c, "text mode only\n");
  char *out, *err;
  render_captured(c, TA_EXIT_OK, &out, &err);
  json_error_t je;
  json_t *doc = json_loads(out, 0, &je);
  assert_non_null(doc);
  assert_true(json_is_true(json_object_get(doc, "ok")));
  assert_int_equal(json_integer_value(json_object_get(doc, "exit_code")), 0);
  assert_string_equal(json_string_value(json_object_get(doc, "command")), "validate");
  assert_int_equal(json_integer_value(json_object_get(doc, "count")), 3);
  assert_null(json_object_get(doc, "error"));
  assert_null(strstr(out, "text mode only"));
  assert_string_equal(err, "");
  json_decref(doc);

  ta_cli_fail(c, TA_EXIT_REFUSED, "app-unknown", "register it", "refused: %s", "401");
  render_captured(c, TA_EXIT_REFUSED, &out, &err);
  doc = json_loads(out, 0, &je);
  assert_non_null(doc);
  assert_true(json_is_false(json_object_get(doc, "ok")));
  assert_int_equal(json_integer_value(json_object_get(doc, "exit_code")), TA_EXIT_REFUSED);
  json_t *e = json_object_get(doc, "error");
  assert_string_equal(json_string_value(json_object_get(e, "token")), "app-unknown");
  assert_string_equal(json_string_value(json_object_get(e, "message")), "refused: 401");
  assert_string_equal(json_string_value(json_object_get(e, "fix")), "register it");
  /* JSON mode: one document on stdout, nothing on stderr */
  assert_string_equal(err, "");
  json_decref(doc);
  free_cli(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_opt_last_value_wins),
    cmocka_unit_test(test_opt_all_keeps_order),
    cmocka_unit_test(test_flag_and_args),
    cmocka_unit_test(test_fail_records_token_message_fix),
    cmocka_unit_test(test_fail_defaults_and_replaces),
    cmocka_unit_test(test_duration_units),
    cmocka_unit_test(test_duration_refusals),
    cmocka_unit_test(test_read_file_bounds),
    cmocka_unit_test(test_read_file_refusals),
    cmocka_unit_test(test_write_file_modes),
    cmocka_unit_test(test_alg_names),
    cmocka_unit_test(test_load_private_key),
    cmocka_unit_test(test_load_private_key_refusals),
    cmocka_unit_test(test_render_text),
    cmocka_unit_test(test_render_text_override_and_error),
    cmocka_unit_test(test_render_json),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

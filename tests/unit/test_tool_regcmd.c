/* trustapp-admin registry commands (tools/cmd_registry.c): the helpers of
 * ta_regcmd.h and the command functions of its tables, run in process on a
 * registry file in a scratch directory (no network, no httpd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "ta_b64.h"
#include "ta_cli.h"
#include "ta_error.h"
#include "ta_keys.h"
#include "ta_regcmd.h"
#include "ta_registry.h"

#include "test_tool_fixture.h"

static int registry_serial;

static int setup(void **state)
{
  (void)state;
  return tool_fixture_open("tool_regcmd");
}

static int teardown(void **state)
{
  (void)state;
  return tool_fixture_close();
}

/* A command context on a registry path of its own. */
static ta_cli_t *new_cli(const char *registry)
{
  ta_cli_t *c = new_cli_context();
  c->registry_path = registry;
  return c;
}

static void reset(ta_cli_t *c)
{
  json_decref(c->result);
  json_decref(c->error);
  c->result = json_object();
  c->error = NULL;
  c->text = NULL;
  apr_array_clear(c->opts);
  apr_array_clear(c->args);
}

static void arg(ta_cli_t *c, const char *value)
{
  APR_ARRAY_PUSH(c->args, const char *) = value;
}

static const char *error_token(const ta_cli_t *c)
{
  return json_string_value(json_object_get(c->error, "token"));
}

static const char *error_message(const ta_cli_t *c)
{
  return json_string_value(json_object_get(c->error, "message"));
}

static const char *fresh_registry(void)
{
  return scratch(apr_psprintf(pool, "registry-%d.xml", ++registry_serial));
}

static const char *public_pem(const char *type)
{
  EVP_PKEY *k = strcmp(type, "RSA") == 0  ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                 : strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                           : EVP_PKEY_Q_keygen(NULL, NULL, type);
  assert_non_null(k);
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  const char *pem = apr_pstrndup(pool, data, (apr_size_t)n);
  BIO_free(b);
  EVP_PKEY_free(k);
  return pem;
}

static const char *b64url_bn(EVP_PKEY *k, const char *param)
{
  BIGNUM *bn = NULL;
  assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
  unsigned char buf[512];
  int n = BN_bn2bin(bn, buf);
  BN_free(bn);
  return ta_b64_encode(pool, TA_B64_URL, buf, (size_t)n);
}

/* An RSA public key as a JWK naming its algorithm ("PS512" or "RS256"). */
static const char *rsa_jwk(const char *alg)
{
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  assert_non_null(k);
  const char *jwk = apr_psprintf(pool, "{\"kty\":\"RSA\",\"alg\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", alg,
                                 b64url_bn(k, OSSL_PKEY_PARAM_RSA_N), b64url_bn(k, OSSL_PKEY_PARAM_RSA_E));
  EVP_PKEY_free(k);
  return jwk;
}

static const char *write_text(const char *name, const char *text)
{
  const char *path = scratch(name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static char *read_text(const char *path)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return apr_pstrdup(pool, buf);
}

static apr_array_header_t *one_key(ta_cli_t *c, const char *pem)
{
  apr_array_header_t *keys = apr_array_make(pool, 1, sizeof(ta_regcmd_key_t));
  assert_int_equal(ta_regcmd_public_key(c, pem, strlen(pem), NULL, "test key",
                                        &APR_ARRAY_PUSH(keys, ta_regcmd_key_t)), TA_EXIT_OK);
  return keys;
}

static const ta_app_t *load_app(const char *registry, const char *id)
{
  ta_registry_t *reg;
  const char *err = NULL;
  if (ta_registry_load(pool, registry, &reg, &err) != TA_OK)
    fail_msg("registry does not load: %s", err ? err : "?");
  return ta_registry_find(reg, id);
}

/* ---- helpers ---- */

static void test_time_iso(void **state)
{
  (void)state;
  assert_string_equal(ta_regcmd_time_iso(pool, 0), "1970-01-01T00:00:00Z");
  assert_string_equal(ta_regcmd_time_iso(pool, apr_time_from_sec(1767225599)), "2025-12-31T23:59:59Z");
  /* sub-second parts are dropped, not rounded */
  assert_string_equal(ta_regcmd_time_iso(pool, apr_time_from_sec(1709164800) + 999999), "2024-02-29T00:00:00Z");
}

static void test_public_key(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli(fresh_registry());
  const char *ed = public_pem("ED25519");
  ta_regcmd_key_t k;
  assert_int_equal(ta_regcmd_public_key(c, ed, strlen(ed), NULL, "ed.pub", &k), TA_EXIT_OK);
  assert_int_equal(k.alg, TA_ALG_NONE);  /* inferred by the loader when registered */
  assert_int_equal(k.not_before, 0);
  assert_int_equal(k.not_after, 0);
  ta_key_t *key;
  assert_int_equal(ta_key_load_public(pool, ed, strlen(ed), TA_ALG_NONE, &key, NULL), TA_OK);
  assert_string_equal(k.fingerprint, ta_key_fingerprint(pool, key));
  assert_string_equal(k.pem, ta_key_public_pem(pool, key));

  const char *ec = public_pem("EC");
  assert_int_equal(ta_regcmd_public_key(c, ec, strlen(ec), "ecdsa-p256", "ec.pub", &k), TA_EXIT_OK);
  assert_int_equal(k.alg, TA_ALG_ECDSA_P256_SHA256);

  /* an RSA key carries the algorithm it was registered for */
  const char *rsa = public_pem("RSA");
  assert_int_equal(ta_regcmd_public_key(c, rsa, strlen(rsa), "rsa-v1_5", "rsa.pub", &k), TA_EXIT_OK);
  assert_int_equal(k.alg, TA_ALG_RSA_V1_5_SHA256);
  assert_int_equal(ta_regcmd_public_key(c, rsa, strlen(rsa), NULL, "rsa.pub", &k), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), ta_error_token(TA_E_KEY_INVALID));
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "fix")), "--alg rsa-pss-sha512"));
  assert_non_null(strstr(error_message(c), "rsa.pub: "));
  /* a JWK names its RSA algorithm: kept for the registry without --alg */
  const char *jwk = rsa_jwk("RS256");
  assert_int_equal(ta_regcmd_public_key(c, jwk, strlen(jwk), NULL, "rsa.jwk", &k), TA_EXIT_OK);
  assert_int_equal(k.alg, TA_ALG_RSA_V1_5_SHA256);
  free_cli(c);
}

static void test_public_key_refusals(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli(fresh_registry());
  const char *ed = public_pem("ED25519");
  ta_regcmd_key_t k;
  memset(&k, 0x5a, sizeof k);
  assert_int_equal(ta_regcmd_public_key(c, ed, strlen(ed), "ed448", "ed.pub", &k), TA_EXIT_USAGE);
  assert_string_equal(error_token(c), "usage");
  assert_non_null(strstr(error_message(c), "'ed448'"));
  assert_int_equal(ta_regcmd_public_key(c, ed, strlen(ed), "hmac-sha256", "ed.pub", &k), TA_EXIT_USAGE);
  /* a key that cannot serve the algorithm asked for */
  assert_int_equal(ta_regcmd_public_key(c, ed, strlen(ed), "ecdsa-p384", "ed.pub", &k), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "fix")), ta_error_fix(TA_E_KEY_INVALID));
  /* private key material never reaches a registry */
  EVP_PKEY *priv = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, priv, NULL, NULL, 0, NULL, NULL);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  assert_int_equal(ta_regcmd_public_key(c, data, (size_t)n, NULL, "priv.pem", &k), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), ta_error_token(TA_E_KEY_INVALID));
  BIO_free(b);
  EVP_PKEY_free(priv);
  assert_int_equal(ta_regcmd_public_key(c, "not a key", 9, NULL, "junk", &k), TA_EXIT_FAILED);
  assert_non_null(strstr(error_message(c), "junk: "));
  free_cli(c);
}

static void test_load(void **state)
{
  (void)state;
  ta_registry_t *reg = (ta_registry_t *)1;
  ta_cli_t *c = new_cli(NULL);
  assert_int_equal(ta_regcmd_load(c, scratch("absent.xml"), &reg), TA_EXIT_FAILED);
  assert_null(reg);
  assert_string_equal(error_token(c), "registry-missing");
  assert_non_null(strstr(error_message(c), "absent.xml does not exist"));

  const char *broken = write_text("broken.xml", "<?xml version=\"1.0\"?>\n<registry>\n  <application id=\n");
  assert_int_equal(ta_regcmd_load(c, broken, &reg), TA_EXIT_REGISTRY);
  assert_string_equal(error_token(c), "registry-invalid");
  /* FILE:LINE: names where */
  assert_non_null(strstr(error_message(c), "broken.xml:"));

  /* Root reads any file: as root, the check runs in a child that has
   * become nobody (the scratch directory is made traversable for it). */
  const char *unreadable = write_text("unreadable.xml", "<registry/>");
  assert_int_equal(chmod(unreadable, 0), 0);
  if (geteuid() != 0) {
    assert_int_equal(ta_regcmd_load(c, unreadable, &reg), TA_EXIT_FAILED);
    assert_string_equal(error_token(c), "registry-unreadable");
  } else {
    assert_int_equal(chmod(scratch_dir, 0711), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        _exit(2);
      int ok = ta_regcmd_load(c, unreadable, &reg) == TA_EXIT_FAILED
               && !strcmp(error_token(c), "registry-unreadable");
      _exit(ok ? 0 : 1);
    }
    int wstatus = 0;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_int_equal(chmod(scratch_dir, 0700), 0);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);   /* 1: not refused as unreadable; 2: no setuid */
  }
  free_cli(c);
}

/* ---- add ---- */

static void test_add_app_with_options(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  apr_array_header_t *keys = one_key(c, public_pem("ED25519"));
  opt(c, "name", "Confluence");
  opt(c, "timeout", "30s");
  opt(c, "ip", "10.0.0.0/24");
  opt(c, "ip", "192.168.*.*");
  opt(c, "path", "/rest");
  opt(c, "user-deny", "svc-*");
  opt(c, "cert-sha256", "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89");
  opt(c, "disabled", "1");
  assert_int_equal(ta_regcmd_add_app(c, "confluence:1", keys), TA_EXIT_OK);
  assert_null(c->error);
  const ta_app_t *a = load_app(registry, "confluence:1");
  assert_non_null(a);
  assert_string_equal(a->name, "Confluence");
  assert_int_equal(a->enabled, 0);
  assert_true(a->timeout == 30000 * 1000LL);
  assert_int_equal(a->n_ip, 2);
  assert_string_equal(a->ip_patterns[1], "192.168.*.*");
  assert_int_equal(a->n_path, 1);
  assert_int_equal(a->n_users_deny, 1);
  assert_int_equal(a->n_keys, 1);
  /* the colon form tls-fetch prints is stored as lower-case hex */
  assert_string_equal(a->client_cert_sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  json_t *app = json_object_get(c->result, "application");
  assert_string_equal(json_string_value(json_object_get(app, "id")), "confluence:1");
  assert_int_equal(json_integer_value(json_object_get(app, "timeout_ms")), 30000);
  assert_null(json_object_get(c->result, "warnings"));
  assert_non_null(strstr(c->text, "added application 'confluence:1' in "));
  free_cli(c);
}

static void test_add_app_warns_and_refuses_duplicates(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  apr_array_header_t *keys = one_key(c, public_pem("ED25519"));
  assert_int_equal(ta_regcmd_add_app(c, "jira", keys), TA_EXIT_OK);
  json_t *warn = json_object_get(c->result, "warnings");
  assert_int_equal(json_array_size(warn), 2);
  assert_non_null(strstr(json_string_value(json_array_get(warn, 0)), "no --ip"));
  assert_non_null(strstr(json_string_value(json_array_get(warn, 1)), "no --path"));
  assert_non_null(strstr(c->text, "warning: no --ip"));
  char *before = read_text(registry);

  reset(c);
  opt(c, "name", "Another");
  assert_int_equal(ta_regcmd_add_app(c, "jira", one_key(c, public_pem("ED25519"))), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "app-exists");
  assert_non_null(strstr(error_message(c), "'jira' is already registered"));
  assert_string_equal(read_text(registry), before);
  free_cli(c);
}

static void test_add_app_checks_options_before_writing(void **state)
{
  (void)state;
  static const struct { const char *name, *value, *token; int exit_code; } bad[] = {
    {"timeout", "2d", "usage", TA_EXIT_USAGE},
    {"timeout", "86400001", "usage", TA_EXIT_USAGE},
    {"timeout", "-5", "usage", TA_EXIT_USAGE},
    {"ip", "*", "invalid-value", TA_EXIT_FAILED},
    {"ip", "10.0.0.0/33", "invalid-value", TA_EXIT_FAILED},
    {"path", "rest", "invalid-value", TA_EXIT_FAILED},
    {"user-allow", "bad\x01user", "invalid-value", TA_EXIT_FAILED},
    {"protocols", "rfc9421 kerberos", "invalid-value", TA_EXIT_FAILED},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *registry = fresh_registry();
    ta_cli_t *c = new_cli(registry);
    apr_array_header_t *keys = one_key(c, public_pem("ED25519"));
    opt(c, bad[i].name, bad[i].value);
    int rc = ta_regcmd_add_app(c, "app", keys);
    if (rc != bad[i].exit_code || error_token(c) == NULL || strcmp(error_token(c), bad[i].token) != 0)
      fail_msg("--%s '%s': exit %d token %s", bad[i].name, bad[i].value, rc,
               error_token(c) ? error_token(c) : "(none)");
    /* refused before the registry is created */
    assert_int_equal(access(registry, F_OK), -1);
    free_cli(c);
  }
  /* the upper bound itself and 'default' are accepted */
  ta_cli_t *c = new_cli(fresh_registry());
  opt(c, "timeout", "24h");
  opt(c, "protocols", "rfc9421 mtls");
  assert_int_equal(ta_regcmd_add_app(c, "app", one_key(c, public_pem("ED25519"))), TA_EXIT_OK);
  const ta_app_t *a = load_app(c->registry_path, "app");
  assert_true(a->timeout == 86400000LL * 1000);
  assert_int_equal(a->protocols, TA_APP_PROTO_RFC9421 | TA_APP_PROTO_MTLS);
  free_cli(c);
}

/* ---- edits through the command tables ---- */

static void test_set_enable_remove(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  opt(c, "ip", "10.0.0.1");
  opt(c, "path", "/rest");
  assert_int_equal(ta_regcmd_add_app(c, "app", one_key(c, public_pem("ED25519"))), TA_EXIT_OK);

  reset(c);
  arg(c, "app");
  opt(c, "add-ip", "10.0.0.2");
  opt(c, "remove-path", "/rest");
  opt(c, "add-path", "/api");
  opt(c, "timeout", "default");
  assert_int_equal(ta_cmd_set.run(c), TA_EXIT_OK);
  const ta_app_t *a = load_app(registry, "app");
  assert_int_equal(a->n_ip, 2);
  assert_int_equal(a->n_path, 1);
  assert_string_equal(a->path_prefixes[0], "/api");

  reset(c);
  arg(c, "app");
  assert_int_equal(ta_cmd_set.run(c), TA_EXIT_USAGE);
  assert_non_null(strstr(error_message(c), "nothing to change"));

  /* --add-ip is checked like --ip, before the lock */
  reset(c);
  arg(c, "app");
  opt(c, "add-ip", "10.0.0.256");
  assert_int_equal(ta_cmd_set.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "invalid-value");
  assert_non_null(strstr(error_message(c), "--add-ip: "));
  assert_int_equal(load_app(registry, "app")->n_ip, 2);

  reset(c);
  arg(c, "app");
  opt(c, "clear-ip", "1");
  assert_int_equal(ta_cmd_set.run(c), TA_EXIT_OK);
  assert_int_equal(load_app(registry, "app")->n_ip, 0);

  reset(c);
  arg(c, "nosuch");
  opt(c, "name", "x");
  assert_int_equal(ta_cmd_set.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "unknown-app");

  reset(c);
  arg(c, "app");
  assert_int_equal(ta_cmd_disable.run(c), TA_EXIT_OK);
  assert_int_equal(load_app(registry, "app")->enabled, 0);
  reset(c);
  arg(c, "app");
  assert_int_equal(ta_cmd_enable.run(c), TA_EXIT_OK);
  assert_int_equal(load_app(registry, "app")->enabled, 1);
  reset(c);
  arg(c, "nosuch");
  assert_int_equal(ta_cmd_enable.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "unknown-app");

  reset(c);
  arg(c, "app");
  assert_int_equal(ta_cmd_remove.run(c), TA_EXIT_OK);
  assert_null(load_app(registry, "app"));
  reset(c);
  arg(c, "app");
  assert_int_equal(ta_cmd_remove.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "unknown-app");
  free_cli(c);
}

static void test_key_rotation(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  const char *first_pem = public_pem("ED25519");
  apr_array_header_t *keys = one_key(c, first_pem);
  const char *first_fp = APR_ARRAY_IDX(keys, 0, ta_regcmd_key_t).fingerprint;
  assert_int_equal(ta_regcmd_add_app(c, "app", keys), TA_EXIT_OK);

  const char *second = write_text("second.pub", public_pem("ED25519"));
  reset(c);
  arg(c, "app");
  arg(c, second);
  opt(c, "not-before", "2026-12-01");
  opt(c, "not-after", "2027-06-30T12:00:00Z");
  assert_int_equal(ta_cmd_add_key.run(c), TA_EXIT_OK);
  /* copied: the result object is replaced by the next command */
  const char *second_fp = apr_pstrdup(pool, json_string_value(json_object_get(c->result, "fingerprint")));
  assert_non_null(second_fp);
  const ta_app_t *a = load_app(registry, "app");
  assert_int_equal(a->n_keys, 2);
  const ta_app_key_t *k = strcmp(a->keys[0].fingerprint, second_fp) == 0 ? &a->keys[0] : &a->keys[1];
  assert_string_equal(ta_regcmd_time_iso(pool, k->not_before), "2026-12-01T00:00:00Z");
  assert_string_equal(ta_regcmd_time_iso(pool, k->not_after), "2027-06-30T12:00:00Z");

  /* the same key twice */
  reset(c);
  arg(c, "app");
  arg(c, second);
  assert_int_equal(ta_cmd_add_key.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "key-exists");

  static const struct { const char *nb, *na; } bad_dates[] = {
    {"2026-13-01", NULL}, {"2026-12-01T10:00:00", NULL}, {"tomorrow", NULL}, {NULL, "2026-12-01 "},
    {"2027-01-01", "2027-01-01"}, {"2027-01-02", "2027-01-01"},
  };
  for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
    reset(c);
    arg(c, "app");
    arg(c, second);
    if (bad_dates[i].nb)
      opt(c, "not-before", bad_dates[i].nb);
    if (bad_dates[i].na)
      opt(c, "not-after", bad_dates[i].na);
    if (ta_cmd_add_key.run(c) != TA_EXIT_USAGE)
      fail_msg("accepted --not-before %s --not-after %s", bad_dates[i].nb ? bad_dates[i].nb : "-",
               bad_dates[i].na ? bad_dates[i].na : "-");
  }

  reset(c);
  arg(c, "app");
  arg(c, first_fp);
  assert_int_equal(ta_cmd_remove_key.run(c), TA_EXIT_OK);
  assert_int_equal(load_app(registry, "app")->n_keys, 1);
  /* the last key stays */
  reset(c);
  arg(c, "app");
  arg(c, second_fp);
  assert_int_equal(ta_cmd_remove_key.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "key-not-removed");
  assert_non_null(strstr(json_string_value(json_object_get(c->error, "fix")), "trustapp-admin show app"));
  assert_int_equal(load_app(registry, "app")->n_keys, 1);
  free_cli(c);
}

static void test_show_list_validate(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  opt(c, "name", "Wiki");
  opt(c, "ip", "::1");
  opt(c, "path", "/");
  assert_int_equal(ta_regcmd_add_app(c, "wiki", one_key(c, public_pem("ED25519"))), TA_EXIT_OK);
  reset(c);
  assert_int_equal(ta_regcmd_add_app(c, "other", one_key(c, public_pem("EC"))), TA_EXIT_OK);

  reset(c);
  arg(c, "wiki");
  assert_int_equal(ta_cmd_show.run(c), TA_EXIT_OK);
  json_t *app = json_object_get(c->result, "application");
  assert_string_equal(json_string_value(json_object_get(app, "name")), "Wiki");
  assert_true(json_is_true(json_object_get(app, "enabled")));
  assert_string_equal(json_string_value(json_object_get(app, "protocols")), "any (the location decides)");
  json_t *key = json_array_get(json_object_get(app, "keys"), 0);
  assert_string_equal(json_string_value(json_object_get(key, "alg")), "ed25519");
  assert_true(json_is_null(json_object_get(key, "not_after")));
  assert_true(json_is_true(json_object_get(key, "valid_now")));
  assert_string_equal(json_string_value(json_array_get(json_object_get(app, "ips"), 0)), "::1");
  assert_true(json_is_null(json_object_get(app, "client_cert")));

  reset(c);
  arg(c, "nosuch");
  assert_int_equal(ta_cmd_show.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "unknown-app");

  reset(c);
  assert_int_equal(ta_cmd_list.run(c), TA_EXIT_OK);
  assert_int_equal(json_integer_value(json_object_get(c->result, "count")), 2);
  json_t *apps = json_object_get(c->result, "applications");
  assert_int_equal(json_array_size(apps), 2);
  assert_non_null(strstr(c->text, "2 application(s) in "));

  reset(c);
  assert_int_equal(ta_cmd_validate.run(c), TA_EXIT_OK);
  assert_true(json_is_true(json_object_get(c->result, "valid")));
  assert_int_equal(json_integer_value(json_object_get(c->result, "applications")), 2);

  const char *broken = write_text("invalid.xml", "<registry><application/></registry>\n");
  reset(c);
  arg(c, broken);
  assert_int_equal(ta_cmd_validate.run(c), TA_EXIT_REGISTRY);
  assert_true(json_is_false(json_object_get(c->result, "valid")));
  assert_string_equal(json_string_value(json_object_get(c->result, "file")), broken);
  free_cli(c);
}

static void test_add_command_usage(void **state)
{
  (void)state;
  const char *registry = fresh_registry();
  ta_cli_t *c = new_cli(registry);
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_USAGE);
  assert_non_null(strstr(error_message(c), "exactly one of --url or --public-key"));
  reset(c);
  opt(c, "url", "https://peer.example");
  opt(c, "public-key", "x.pub");
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_USAGE);
  reset(c);
  opt(c, "public-key", write_text("k.pub", public_pem("ED25519")));
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_USAGE);
  assert_non_null(strstr(error_message(c), "--public-key needs --id"));
  /* option values are checked before anything is fetched */
  reset(c);
  opt(c, "url", "https://peer.invalid");
  opt(c, "ip", "300.0.0.1");
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "invalid-value");
  reset(c);
  opt(c, "public-key", scratch("absent.pub"));
  opt(c, "id", "x");
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_FAILED);
  assert_string_equal(error_token(c), "key-unreadable");
  assert_int_equal(access(registry, F_OK), -1);

  reset(c);
  opt(c, "public-key", write_text("k2.pub", public_pem("ED25519")));
  opt(c, "id", "peer");
  opt(c, "path", "/rest");
  assert_int_equal(ta_cmd_add.run(c), TA_EXIT_OK);
  assert_non_null(load_app(registry, "peer"));
  free_cli(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_time_iso),
    cmocka_unit_test(test_public_key),
    cmocka_unit_test(test_public_key_refusals),
    cmocka_unit_test(test_load),
    cmocka_unit_test(test_add_app_with_options),
    cmocka_unit_test(test_add_app_warns_and_refuses_duplicates),
    cmocka_unit_test(test_add_app_checks_options_before_writing),
    cmocka_unit_test(test_set_enable_remove),
    cmocka_unit_test(test_key_rotation),
    cmocka_unit_test(test_show_list_validate),
    cmocka_unit_test(test_add_command_usage),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

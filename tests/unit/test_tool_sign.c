/* trustapp-admin request signing (tools/cmd_sign.c, ta_sign_from_options):
 * the headers it adds verify with the library's RFC 9421 verifier over the
 * message the options describe, the parameters follow the options, and
 * every malformed option is refused before anything is signed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ta_cli.h"
#include "ta_digest.h"
#include "ta_error.h"
#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_msg.h"
#include "ta_sign.h"

#include "test_tool_fixture.h"

static const char *ed_key_path, *rsa_key_path;
static ta_key_t *ed_public;

/* Writes the private key to a file and returns the public key's PEM. */
static const char *write_key(EVP_PKEY *k, const char *path)
{
  FILE *f = fopen(path, "w");
  if (f == NULL || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
    return NULL;
  fclose(f);
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b, k);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  const char *pem = apr_pstrndup(pool, data, (apr_size_t)n);
  BIO_free(b);
  return pem;
}

static int setup(void **state)
{
  (void)state;
  if (tool_fixture_open("tool_sign") != 0)
    return -1;
  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  ed_key_path = scratch("ed.key");
  rsa_key_path = scratch("rsa.key");
  const char *ed_pub = ed ? write_key(ed, ed_key_path) : NULL;
  const char *rsa_pub = rsa ? write_key(rsa, rsa_key_path) : NULL;
  EVP_PKEY_free(ed);
  EVP_PKEY_free(rsa);
  if (ed_pub == NULL || rsa_pub == NULL)
    return -1;
  return ta_key_load_public(pool, ed_pub, strlen(ed_pub), TA_ALG_NONE, &ed_public, NULL) == TA_OK ? 0 : -1;
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

/* A native signing context: key, id, url. */
static ta_cli_t *native_cli(const char *url)
{
  ta_cli_t *c = new_cli();
  opt(c, "key", ed_key_path);
  opt(c, "id", "jira:1");
  opt(c, "url", url);
  return c;
}

static const char *error_message(const ta_cli_t *c)
{
  return json_string_value(json_object_get(c->error, "message"));
}

/* The value of an added header line, or NULL. */
static const char *added(const ta_signed_req_t *s, const char *name)
{
  size_t n = strlen(name);
  for (int i = 0; i < s->added->nelts; i++) {
    const char *line = APR_ARRAY_IDX(s->added, i, const char *);
    if (strncasecmp(line, name, n) == 0 && line[n] == ':' && line[n + 1] == ' ')
      return line + n + 2;
  }
  return NULL;
}

/* The request as the server would see it: the given target plus the --header
 * lines and the added lines. */
static ta_msg_t *received(const ta_signed_req_t *s, const char *method, const char *scheme,
                          const char *authority, const char *path, const char *query)
{
  ta_msg_t *m = ta_msg_make(pool);
  m->method = method;
  m->scheme = scheme;
  m->authority = authority;
  m->path = path;
  m->query = query;
  const apr_array_header_t *lists[] = {s->extra, s->added};
  for (size_t l = 0; l < 2; l++)
    for (int i = 0; i < lists[l]->nelts; i++) {
      const char *line = APR_ARRAY_IDX(lists[l], i, const char *);
      const char *colon = strchr(line, ':');
      const char *v = colon + 1;
      while (*v == ' ')
        v++;
      ta_msg_add_field(m, apr_pstrndup(pool, line, (apr_size_t)(colon - line)), v);
    }
  return m;
}

static ta_httpsig_t *parse_ok(const ta_msg_t *m, const char *label)
{
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, m, label, &sig), TA_OK);
  return sig;
}

/* ---- native profile ---- */

static void test_native_get_with_user(void **state)
{
  (void)state;
  ta_cli_t *c = native_cli("https://Wiki.Example.com:443/rest/api/2/issue?expand=names#frag");
  opt(c, "user", "alice");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_string_equal(s.protocol, "native");
  assert_string_equal(s.method, "GET");
  assert_string_equal(s.keyid, "jira:1");
  assert_string_equal(added(&s, "TrustedApp-User"), "alice");
  assert_null(added(&s, "Content-Digest"));
  assert_non_null(s.base);
  /* scheme and host lower-cased, default port dropped, fragment not sent */
  assert_non_null(strstr(s.base, "\"@target-uri\": https://wiki.example.com/rest/api/2/issue?expand=names\n"));

  ta_msg_t *m = received(&s, "GET", "https", "wiki.example.com", "/rest/api/2/issue", "expand=names");
  ta_httpsig_t *sig = parse_ok(m, "ta");
  assert_int_equal(ta_httpsig_verify(sig, ed_public), TA_OK);
  assert_true(ta_httpsig_covers(sig, "@method"));
  assert_true(ta_httpsig_covers(sig, "@target-uri"));
  assert_true(ta_httpsig_covers_field(sig, "TrustedApp-User"));
  assert_string_equal(sig->keyid, "jira:1");
  assert_null(sig->alg);  /* only sent when --alg is given */
  assert_true(sig->has_created && sig->created == s.created);
  long long now = (long long)apr_time_sec(apr_time_now());
  assert_true(s.created <= now && s.created >= now - 5);
  assert_true(sig->has_expires && sig->expires == s.created + 60);
  assert_non_null(sig->nonce);
  assert_string_equal(sig->nonce, s.nonce);
  assert_int_equal(strlen(s.nonce), 24);  /* 18 random bytes, base64url */
  assert_int_equal(strspn(s.nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 24);

  /* what was signed is what is checked: another method, path or user fails */
  m = received(&s, "POST", "https", "wiki.example.com", "/rest/api/2/issue", "expand=names");
  assert_int_equal(ta_httpsig_verify(parse_ok(m, "ta"), ed_public), TA_E_BAD_SIGNATURE);
  m = received(&s, "GET", "https", "wiki.example.com", "/rest/api/2/issue", "expand=all");
  assert_int_equal(ta_httpsig_verify(parse_ok(m, "ta"), ed_public), TA_E_BAD_SIGNATURE);

  /* a fresh nonce each time */
  ta_signed_req_t again;
  assert_int_equal(ta_sign_from_options(c, &again), TA_EXIT_OK);
  assert_string_not_equal(again.nonce, s.nonce);
  free_cli(c);
}

static void test_native_body_digest(void **state)
{
  (void)state;
  ta_cli_t *c = native_cli("http://127.0.0.1:8080/rest");
  opt(c, "method", "POST");
  opt(c, "body", "{\"q\":1}");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_int_equal(s.body_len, 7);
  const char *digest = added(&s, "Content-Digest");
  assert_non_null(digest);
  assert_int_equal(strncmp(digest, "sha-256=:", 9), 0);
  assert_int_equal(ta_digest_verify_body(pool, digest, strlen(digest), s.body, s.body_len), TA_OK);
  assert_int_equal(ta_digest_verify_body(pool, digest, strlen(digest), "{\"q\":2}", 7), TA_E_DIGEST_MISMATCH);
  ta_msg_t *m = received(&s, "POST", "http", "127.0.0.1:8080", "/rest", NULL);
  ta_httpsig_t *sig = parse_ok(m, NULL);
  assert_true(ta_httpsig_covers(sig, "content-digest"));
  assert_false(ta_httpsig_covers_field(sig, "TrustedApp-User"));  /* no --user, no user header */
  assert_int_equal(ta_httpsig_verify(sig, ed_public), TA_OK);
  free_cli(c);

  c = native_cli("https://h.example/x");
  const char *body_file = scratch("body.bin");
  FILE *f = fopen(body_file, "wb");
  fwrite("a\0b", 1, 3, f);
  fclose(f);
  opt(c, "body-file", body_file);
  opt(c, "digest", "sha-512");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_int_equal(s.body_len, 3);
  digest = added(&s, "Content-Digest");
  assert_int_equal(strncmp(digest, "sha-512=:", 9), 0);
  assert_int_equal(ta_digest_verify_body(pool, digest, strlen(digest), "a\0b", 3), TA_OK);
  free_cli(c);

  c = native_cli("https://h.example/x");
  opt(c, "body", "x");
  opt(c, "digest", "md5");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_USAGE);
  assert_non_null(strstr(error_message(c), "'md5'"));
  free_cli(c);

  /* an empty body is a body: it gets its digest */
  c = native_cli("https://h.example/x");
  opt(c, "body", "");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_non_null(added(&s, "Content-Digest"));
  free_cli(c);
}

static void test_native_parameters_follow_options(void **state)
{
  (void)state;
  ta_cli_t *c = native_cli("https://h.example/p");
  opt(c, "created", "1700000000");
  opt(c, "expires", "1700000300");
  opt(c, "nonce", "fixed-nonce");
  opt(c, "label", "peer");
  opt(c, "user", "bob");
  opt(c, "user-header", "X-Acting-User");
  opt(c, "alg", "ed25519");
  opt(c, "header", "X-Request-Id:   42");
  opt(c, "cover", "x-request-id");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_int_equal(s.extra->nelts, 1);
  assert_string_equal(APR_ARRAY_IDX(s.extra, 0, const char *), "X-Request-Id:   42");
  assert_null(added(&s, "TrustedApp-User"));
  assert_string_equal(added(&s, "X-Acting-User"), "bob");
  ta_msg_t *m = received(&s, "GET", "https", "h.example", "/p", NULL);
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &(ta_httpsig_t *){NULL}), TA_OK);  /* the only one */
  ta_httpsig_t *sig = parse_ok(m, "peer");
  assert_string_equal(sig->label, "peer");
  assert_true(sig->created == 1700000000 && sig->expires == 1700000300);
  assert_string_equal(sig->nonce, "fixed-nonce");
  assert_string_equal(sig->alg, "ed25519");
  assert_true(ta_httpsig_covers_field(sig, "x-acting-user"));
  assert_true(ta_httpsig_covers_field(sig, "X-Request-Id"));
  assert_int_equal(ta_httpsig_verify(sig, ed_public), TA_OK);
  /* the covered extra header is part of what was signed */
  ta_msg_t *changed = received(&s, "GET", "https", "h.example", "/p", NULL);
  APR_ARRAY_IDX(changed->fields, 0, ta_field_t).value = "43";
  assert_int_equal(ta_httpsig_verify(parse_ok(changed, "peer"), ed_public), TA_E_BAD_SIGNATURE);
  free_cli(c);

  c = native_cli("https://h.example/p");
  opt(c, "created", "1700000000");
  opt(c, "ttl", "0");
  opt(c, "no-nonce", "1");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_null(s.nonce);
  sig = parse_ok(received(&s, "GET", "https", "h.example", "/p", NULL), NULL);
  assert_false(sig->has_expires);
  assert_null(sig->nonce);
  assert_int_equal(ta_httpsig_verify(sig, ed_public), TA_OK);
  free_cli(c);

  c = native_cli("https://h.example/p");
  opt(c, "created", "1700000000");
  opt(c, "ttl", "5");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  sig = parse_ok(received(&s, "GET", "https", "h.example", "/p", NULL), NULL);
  assert_true(sig->expires == 1700000005);
  free_cli(c);

  /* a key of another algorithm than --alg names is refused */
  c = native_cli("https://h.example/p");
  opt(c, "alg", "ecdsa-p256");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_FAILED);
  free_cli(c);
}

static void test_protocol_none_and_seraph(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  opt(c, "protocol", "none");
  opt(c, "url", "https://h.example/p");
  opt(c, "header", "Accept: application/json");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_int_equal(s.added->nelts, 0);
  assert_int_equal(s.extra->nelts, 1);
  assert_null(s.base);
  free_cli(c);

  c = new_cli();
  opt(c, "protocol", "seraph");
  opt(c, "key", rsa_key_path);
  opt(c, "id", "confluence:5749012");
  opt(c, "url", "https://h.example/rest/api?x=1");
  opt(c, "user", "alice");
  opt(c, "created", "1700000000");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_string_equal(s.protocol, "seraph");
  assert_true(s.created == 1700000000);
  assert_string_equal(added(&s, "X-Seraph-Trusted-App-ID"), "confluence:5749012");
  assert_non_null(added(&s, "X-Seraph-Trusted-App-Cert"));
  assert_non_null(added(&s, "X-Seraph-Trusted-App-Signature"));
  assert_null(added(&s, "Signature"));
  assert_null(added(&s, "TrustedApp-User"));
  free_cli(c);

  /* without --created the signing time is reported */
  c = new_cli();
  opt(c, "protocol", "seraph");
  opt(c, "key", rsa_key_path);
  opt(c, "id", "c");
  opt(c, "url", "https://h.example/");
  opt(c, "seraph-version", "2");
  opt(c, "user", "bob");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  long long now = (long long)apr_time_sec(apr_time_now());
  assert_true(s.created <= now && s.created >= now - 5);
  free_cli(c);

  static const char *const bad_versions[] = {"4", "22", "", "x", "-1"};
  for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
    c = new_cli();
    opt(c, "protocol", "seraph");
    opt(c, "key", rsa_key_path);
    opt(c, "id", "c");
    opt(c, "url", "https://h.example/");
    opt(c, "seraph-version", bad_versions[i]);
    opt(c, "user", "bob");
    if (ta_sign_from_options(c, &s) != TA_EXIT_USAGE)
      fail_msg("--seraph-version '%s' accepted", bad_versions[i]);
    free_cli(c);
  }
  /* Seraph needs an RSA key */
  c = new_cli();
  opt(c, "protocol", "seraph");
  opt(c, "key", ed_key_path);
  opt(c, "id", "c");
  opt(c, "url", "https://h.example/");
  opt(c, "user", "bob");
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_FAILED);
  free_cli(c);
  /* and a user: without one it is a usage error, not the library's refusal */
  static const char *const no_users[] = {NULL, ""};
  for (size_t i = 0; i < 2; i++) {
    c = new_cli();
    opt(c, "protocol", "seraph");
    opt(c, "key", rsa_key_path);
    opt(c, "id", "c");
    opt(c, "url", "https://h.example/");
    if (no_users[i])
      opt(c, "user", no_users[i]);
    assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_USAGE);
    assert_string_equal(json_string_value(json_object_get(c->error, "token")), "usage");
    free_cli(c);
  }
}

/* ---- refusals ---- */

static void expect_usage(ta_cli_t *c, const char *in_message)
{
  ta_signed_req_t s;
  int rc = ta_sign_from_options(c, &s);
  if (rc != TA_EXIT_USAGE)
    fail_msg("exit %d, want usage (%s)", rc, in_message);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "usage");
  if (strstr(error_message(c), in_message) == NULL)
    fail_msg("'%s' does not say '%s'", error_message(c), in_message);
  free_cli(c);
}

static void test_refuses_missing_and_unknown(void **state)
{
  (void)state;
  ta_cli_t *c = native_cli("https://h.example/");
  opt(c, "protocol", "kerberos");
  expect_usage(c, "unknown --protocol 'kerberos'");

  c = new_cli();
  opt(c, "key", ed_key_path);
  opt(c, "id", "x");
  expect_usage(c, "missing --url");
  c = new_cli();
  opt(c, "id", "x");
  opt(c, "url", "https://h.example/");
  expect_usage(c, "missing --key");
  c = new_cli();
  opt(c, "key", ed_key_path);
  opt(c, "url", "https://h.example/");
  expect_usage(c, "missing --id");
  c = new_cli();
  opt(c, "protocol", "none");
  expect_usage(c, "missing --url");

  static const char *const methods[] = {"GE T", "GET\r\n", "G/T", "GET1", "GET:"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    c = native_cli("https://h.example/");
    opt(c, "method", methods[i]);
    expect_usage(c, "is not an HTTP method token");
  }
  c = native_cli("https://h.example/");
  opt(c, "method", "m-search");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  free_cli(c);
}

static void test_refuses_bad_urls(void **state)
{
  (void)state;
  static const char *const urls[] = {
    "h.example/path", "ftp://h.example/", "https//h.example/", "https://user:pw@h.example/",
    "https://h.example/a b", "https://h.example/a\x7f", "https://h.example/\xc3\xa9", "https://h.example/a\tb",
    "://h.example/", "https://h.example:99999/",
  };
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    ta_cli_t *c = native_cli(urls[i]);
    expect_usage(c, "is not an absolute http(s) URL");
  }
  /* an empty path is sent as "/" */
  ta_cli_t *c = native_cli("HTTPS://h.example?q");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  assert_non_null(strstr(s.base, "\"@target-uri\": https://h.example/?q\n"));
  assert_int_equal(ta_httpsig_verify(parse_ok(received(&s, "GET", "https", "h.example", "/", "q"), NULL),
                                     ed_public), TA_OK);
  free_cli(c);
}

static void test_refuses_bad_values(void **state)
{
  (void)state;
  static const char *const headers[] = {"NoColon", ": value", "X-A: b\r\nX-Evil: 1", "X-A: b\n"};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    ta_cli_t *c = native_cli("https://h.example/");
    opt(c, "header", "Accept: */*");
    opt(c, "header", headers[i]);
    expect_usage(c, "is malformed");
  }
  static const char *const epochs[] = {"-1", "1.5", "17e8", "0x10", "253402300800", "99999999999999999999", "1 ",
                                       ""};
  for (size_t i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
    ta_cli_t *c = native_cli("https://h.example/");
    opt(c, "created", epochs[i]);
    expect_usage(c, "--created");
    c = native_cli("https://h.example/");
    opt(c, "expires", epochs[i]);
    expect_usage(c, "--expires");
    c = native_cli("https://h.example/");
    opt(c, "ttl", epochs[i]);
    expect_usage(c, "--ttl");
  }
  ta_cli_t *c = native_cli("https://h.example/");
  opt(c, "created", "253402300799");
  opt(c, "ttl", "0");
  ta_signed_req_t s;
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  free_cli(c);

  c = native_cli("https://h.example/");
  opt(c, "body", "a");
  opt(c, "body-file", scratch("body.bin"));
  expect_usage(c, "not both");

  c = native_cli("https://h.example/");
  opt(c, "body-file", scratch("absent.bin"));
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_FAILED);
  assert_string_equal(json_string_value(json_object_get(c->error, "token")), "body-unreadable");
  free_cli(c);

  c = native_cli("https://h.example/");
  opt(c, "user", "alice\r\nX-Admin: 1");
  expect_usage(c, "--user is malformed");
  char long_user[258];
  memset(long_user, 'u', 257);
  long_user[257] = '\0';
  c = native_cli("https://h.example/");
  opt(c, "user", long_user);
  expect_usage(c, "--user is malformed");
  long_user[256] = '\0';
  c = native_cli("https://h.example/");
  opt(c, "user", long_user);
  assert_int_equal(ta_sign_from_options(c, &s), TA_EXIT_OK);
  free_cli(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_native_get_with_user),
    cmocka_unit_test(test_native_body_digest),
    cmocka_unit_test(test_native_parameters_follow_options),
    cmocka_unit_test(test_protocol_none_and_seraph),
    cmocka_unit_test(test_refuses_missing_and_unknown),
    cmocka_unit_test(test_refuses_bad_urls),
    cmocka_unit_test(test_refuses_bad_values),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

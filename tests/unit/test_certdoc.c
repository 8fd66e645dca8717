/* Native certificate document: build, serialize, parse back, and every
 * rule of docs/CERTIFICATE.md refused with a reason naming the member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ta_certdoc.h"

#define KEYS TA_SHARED_DIR "/reference/rfc9421/keys/"

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

static char *slurp(apr_pool_t *p, const char *path)
{
  apr_file_t *f;
  apr_finfo_t fi;
  if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS)
    fail_msg("cannot open %s", path);
  assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
  apr_size_t n = (apr_size_t)fi.size;
  char *buf = apr_palloc(p, n + 1);
  assert_int_equal(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
  apr_file_close(f);
  buf[n] = '\0';
  return buf;
}

static ta_key_t *ref_key(apr_pool_t *p, const char *file, ta_alg_t alg)
{
  char *pem = slurp(p, apr_pstrcat(p, KEYS, file, NULL));
  ta_key_t *k;
  assert_int_equal(ta_key_load_public(p, pem, strlen(pem), alg, &k, NULL), TA_OK);
  return k;
}

/* A two-key document (rotation) for an app, from the RFC 9421 keys. */
static ta_certdoc_t *sample(apr_pool_t *p)
{
  ta_certdoc_t *doc = ta_certdoc_make(p, "jira:1234567", "Jira (staging)");
  apr_time_t nb, na;
  assert_int_equal(ta_certdoc_parse_time("2026-01-01T00:00:00Z", &nb), TA_OK);
  assert_int_equal(ta_certdoc_parse_time("2027-01-01T00:00:00Z", &na), TA_OK);
  assert_int_equal(ta_certdoc_add_key(p, doc, ref_key(p, "test-key-ed25519.pub.pem", TA_ALG_NONE), nb, na), TA_OK);
  assert_int_equal(ta_certdoc_add_key(p, doc, ref_key(p, "test-key-rsa-pss.pub.pem", TA_ALG_RSA_PSS_SHA512), 0, 0), TA_OK);
  assert_int_equal(ta_certdoc_add_protocol(p, doc, TA_CERTDOC_PROTO_RFC9421), TA_OK);
  return doc;
}

static json_t *sample_json(apr_pool_t *p)
{
  char *text = ta_certdoc_serialize(p, sample(p));
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  assert_non_null(j);
  return j;
}

static ta_status_t parse_json(apr_pool_t *p, json_t *j, ta_certdoc_t **doc, const char **err)
{
  char *s = json_dumps(j, JSON_COMPACT);
  char *copy = apr_pstrdup(p, s);
  free(s);
  return ta_certdoc_parse(p, copy, strlen(copy), doc, err);
}

static void test_round_trip(void **state)
{
  apr_pool_t *p = *state;
  ta_certdoc_t *doc = sample(p);
  char *text = ta_certdoc_serialize(p, doc);
  assert_non_null(text);
  assert_non_null(strstr(text, "\"format\": \"trustedapp-certificate/1\""));
  assert_non_null(strstr(text, "\"not_before\": \"2026-01-01T00:00:00Z\""));
  assert_non_null(strstr(text, "\"not_after\": null"));
  assert_int_equal(text[strlen(text) - 1], '\n');

  ta_certdoc_t *back;
  const char *err = NULL;
  assert_int_equal(ta_certdoc_parse(p, text, strlen(text), &back, &err), TA_OK);
  assert_string_equal(back->id, "jira:1234567");
  assert_string_equal(back->name, "Jira (staging)");
  assert_int_equal(back->n_keys, 2);
  assert_int_equal(back->keys[0].alg, TA_ALG_ED25519);
  assert_int_equal(back->keys[1].alg, TA_ALG_RSA_PSS_SHA512);
  assert_int_equal(ta_key_alg(back->keys[1].key), TA_ALG_RSA_PSS_SHA512);
  assert_string_equal(back->keys[0].fingerprint, "SHA256:NFcWBst6DXG+N35nHdzMrioWntdzNZghQSkjHNMMSjw");
  assert_string_equal(back->keys[0].fingerprint, doc->keys[0].fingerprint);
  assert_int_equal(back->keys[0].not_before, doc->keys[0].not_before);
  assert_int_equal(back->keys[0].not_after, doc->keys[0].not_after);
  assert_int_equal(back->keys[1].not_before, 0);
  assert_int_equal(back->n_protocols, 1);
  assert_true(ta_certdoc_has_protocol(back, "rfc9421"));
  assert_false(ta_certdoc_has_protocol(back, "seraph"));
  assert_null(back->seraph_json);
  /* Serializing the parsed document gives the same bytes. */
  assert_string_equal(ta_certdoc_serialize(p, back), text);
}

static void test_key_validity_window(void **state)
{
  apr_pool_t *p = *state;
  ta_certdoc_t *doc = sample(p);
  apr_time_t t;
  assert_int_equal(ta_certdoc_parse_time("2025-12-31T23:59:59Z", &t), TA_OK);
  assert_false(ta_certdoc_key_valid_at(&doc->keys[0], t));
  assert_true(ta_certdoc_key_valid_at(&doc->keys[1], t));
  assert_int_equal(ta_certdoc_parse_time("2026-01-01T00:00:00Z", &t), TA_OK);
  assert_true(ta_certdoc_key_valid_at(&doc->keys[0], t));
  assert_int_equal(ta_certdoc_parse_time("2027-01-01T00:00:00Z", &t), TA_OK);
  assert_false(ta_certdoc_key_valid_at(&doc->keys[0], t));
}

static void test_time_format(void **state)
{
  apr_pool_t *p = *state;
  apr_time_t t;
  /* Known epoch seconds (date -u -d ... +%s). */
  assert_int_equal(ta_certdoc_parse_time("1970-01-01T00:00:01Z", &t), TA_OK);
  assert_int_equal(apr_time_sec(t), 1);
  assert_int_equal(ta_certdoc_parse_time("2000-03-01T00:00:00Z", &t), TA_OK);
  assert_int_equal(apr_time_sec(t), 951868800);
  assert_int_equal(ta_certdoc_parse_time("2024-02-29T12:34:56Z", &t), TA_OK);
  assert_int_equal(apr_time_sec(t), 1709210096);
  assert_string_equal(ta_certdoc_format_time(p, t), "2024-02-29T12:34:56Z");
  assert_int_equal(ta_certdoc_parse_time("2100-12-31T23:59:59Z", &t), TA_OK);
  assert_int_equal(apr_time_sec(t), 4133980799LL);
  assert_string_equal(ta_certdoc_format_time(p, t), "2100-12-31T23:59:59Z");
  const char *bad[] = {
    "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
    "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00", "2026-01-01T00:00:00+00:00", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.5Z",
    "1969-12-31T23:59:59Z", "2026-1-01T00:00:00Z", "+026-01-01T00:00:00Z", "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (ta_certdoc_parse_time(bad[i], &t) != TA_E_CERTDOC_INVALID)
      fail_msg("accepted time %s", bad[i]);
}

/* Each mutation of a valid document must be refused, and the reason must
 * name the member at fault. */
static void expect_refused(apr_pool_t *p, json_t *j, const char *member)
{
  ta_certdoc_t *doc = (ta_certdoc_t *)1;
  const char *err = NULL;
  assert_int_equal(parse_json(p, j, &doc, &err), TA_E_CERTDOC_INVALID);
  assert_null(doc);
  assert_non_null(err);
  if (strstr(err, member) == NULL)
    fail_msg("reason \"%s\" does not name %s", err, member);
  json_decref(j);
}

static void test_refusals(void **state)
{
  apr_pool_t *p = *state;
  json_t *j, *k0;
  j = sample_json(p); json_object_set_new(j, "format", json_string("trustedapp-certificate/2"));
  expect_refused(p, j, "format");
  j = sample_json(p); json_object_del(j, "format");
  expect_refused(p, j, "format");
  j = sample_json(p); json_object_set_new(j, "id", json_string(""));
  expect_refused(p, j, "id");
  j = sample_json(p); json_object_set_new(j, "id", json_string("has space"));
  expect_refused(p, j, "id");
  j = sample_json(p); json_object_set_new(j, "id", json_integer(5));
  expect_refused(p, j, "id");
  j = sample_json(p); json_object_set_new(j, "name", json_string("tab\there"));
  expect_refused(p, j, "name");
  j = sample_json(p); json_object_set_new(j, "keys", json_array());
  expect_refused(p, j, "keys");
  j = sample_json(p); json_object_set_new(j, "keys", json_object());
  expect_refused(p, j, "keys");
  j = sample_json(p); json_object_set_new(j, "protocols", json_array());
  expect_refused(p, j, "protocols");
  j = sample_json(p); json_array_append_new(json_object_get(j, "protocols"), json_string("rfc9421"));
  expect_refused(p, j, "protocols[1]");
  j = sample_json(p); json_array_append_new(json_object_get(j, "protocols"), json_string("RFC 9421"));
  expect_refused(p, j, "protocols[1]");
  j = sample_json(p); json_object_set_new(j, "seraph", json_string("x"));
  expect_refused(p, j, "seraph");

  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "alg", json_string("hmac-sha256"));
  expect_refused(p, j, "keys[0].alg");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "alg", json_string("ecdsa-p256-sha256"));   /* the key is ed25519 */
  expect_refused(p, j, "keys[0].public_key");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 1);
  json_object_del(k0, "alg");
  expect_refused(p, j, "keys[1].alg");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "fingerprint", json_string("SHA256:VfljYbeMu4Tx/GBLBxjoK9kau0bY/CWuhxs1+7+LeXQ"));
  expect_refused(p, j, "keys[0].fingerprint");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_del(k0, "fingerprint");
  expect_refused(p, j, "keys[0].fingerprint");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 1);
  json_object_set_new(k0, "public_key", json_string(slurp(p, KEYS "test-key-rsa.pub.pem")));  /* PKCS#1, not SPKI */
  expect_refused(p, j, "keys[1].public_key");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "public_key", json_string(slurp(p, KEYS "test-key-ed25519.pem")));  /* with the private key */
  expect_refused(p, j, "keys[0].public_key");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "not_after", json_string("2025-01-01T00:00:00Z"));
  expect_refused(p, j, "keys[0]");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_object_set_new(k0, "not_before", json_integer(1700000000));
  expect_refused(p, j, "keys[0].not_before");
  j = sample_json(p); k0 = json_array_get(json_object_get(j, "keys"), 0);
  json_array_append(json_object_get(j, "keys"), k0);
  expect_refused(p, j, "keys[2]");
  j = sample_json(p);
  json_object_set_new(j, "keys", json_pack("[s]", "x"));
  expect_refused(p, j, "keys[0]");
}

static void test_malformed_text(void **state)
{
  apr_pool_t *p = *state;
  ta_certdoc_t *doc;
  const char *err;
  const char *bad[] = { "", "[]", "null", "{", "{\"format\":\"trustedapp-certificate/1\"}",
                        "{\"format\":\"trustedapp-certificate/1\",\"format\":\"trustedapp-certificate/1\"}" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err = NULL;
    if (ta_certdoc_parse(p, bad[i], strlen(bad[i]), &doc, &err) != TA_E_CERTDOC_INVALID)
      fail_msg("accepted %s", bad[i]);
    assert_non_null(err);
  }
  /* NUL bytes inside and text past the object. */
  char *text = ta_certdoc_serialize(p, sample(p));
  size_t n = strlen(text);
  char *nul = apr_pmemdup(p, text, n);
  nul[10] = '\0';
  assert_int_equal(ta_certdoc_parse(p, nul, n, &doc, &err), TA_E_CERTDOC_INVALID);
  char *trailing = apr_pstrcat(p, text, "{}", NULL);
  assert_int_equal(ta_certdoc_parse(p, trailing, strlen(trailing), &doc, &err), TA_E_CERTDOC_INVALID);
  /* Over the size bound even when the JSON is fine (padding whitespace). */
  char *big = apr_palloc(p, TA_CERTDOC_MAX_BYTES + 1);
  memset(big, ' ', TA_CERTDOC_MAX_BYTES + 1);
  memcpy(big, text, n);
  assert_int_equal(ta_certdoc_parse(p, big, TA_CERTDOC_MAX_BYTES + 1, &doc, &err), TA_E_CERTDOC_INVALID);
  assert_non_null(strstr(err, "larger"));
  assert_int_equal(ta_certdoc_parse(p, big, TA_CERTDOC_MAX_BYTES, &doc, &err), TA_OK);
}

static void test_unknown_members_ignored_and_seraph_kept(void **state)
{
  apr_pool_t *p = *state;
  json_t *j = sample_json(p);
  json_object_set_new(j, "future_member", json_pack("{s:i}", "x", 1));
  json_object_set_new(json_array_get(json_object_get(j, "keys"), 0), "kid", json_string("k1"));
  json_array_append_new(json_object_get(j, "protocols"), json_string("seraph"));
  json_array_append_new(json_object_get(j, "protocols"), json_string("future-proto2"));
  json_object_set_new(j, "seraph", json_pack("{s:s,s:i}", "certificate_url", "/admin/appTrustCertificate", "version", 2));
  json_object_del(j, "name");
  ta_certdoc_t *doc;
  const char *err = NULL;
  assert_int_equal(parse_json(p, j, &doc, &err), TA_OK);
  json_decref(j);
  assert_null(doc->name);
  assert_int_equal(doc->n_protocols, 3);
  assert_true(ta_certdoc_has_protocol(doc, "seraph"));
  assert_true(ta_certdoc_has_protocol(doc, "future-proto2"));
  assert_non_null(doc->seraph_json);
  json_error_t jerr;
  json_t *s = json_loads(doc->seraph_json, 0, &jerr);
  assert_int_equal(json_integer_value(json_object_get(s, "version")), 2);
  json_decref(s);
  /* The seraph section survives a re-serialization; unknown members do not. */
  char *text = ta_certdoc_serialize(p, doc);
  assert_non_null(strstr(text, "appTrustCertificate"));
  assert_null(strstr(text, "future_member"));
}

static void test_builder_refusals(void **state)
{
  apr_pool_t *p = *state;
  ta_certdoc_t *doc = ta_certdoc_make(p, "app", NULL);
  ta_key_t *hmac;
  assert_int_equal(ta_key_hmac(p, (const unsigned char *)"secret", 6, &hmac), TA_OK);
  assert_int_equal(ta_certdoc_add_key(p, doc, hmac, 0, 0), TA_E_KEY_INVALID);
  ta_key_t *ed = ref_key(p, "test-key-ed25519.pub.pem", TA_ALG_NONE);
  assert_int_equal(ta_certdoc_add_key(p, doc, ed, apr_time_from_sec(100), apr_time_from_sec(100)), TA_E_KEY_INVALID);
  /* Nothing to publish yet: no key, no protocol. */
  assert_null(ta_certdoc_serialize(p, doc));
  assert_int_equal(ta_certdoc_add_key(p, doc, ed, 0, 0), TA_OK);
  assert_null(ta_certdoc_serialize(p, doc));
  assert_int_equal(ta_certdoc_add_protocol(p, doc, "rfc9421"), TA_OK);
  assert_int_equal(ta_certdoc_add_protocol(p, doc, "rfc9421"), TA_E_CERTDOC_INVALID);
  assert_int_equal(ta_certdoc_add_protocol(p, doc, "Bad"), TA_E_CERTDOC_INVALID);
  assert_non_null(ta_certdoc_serialize(p, doc));
  /* The same key twice is refused by the parser, so the serializer refuses too. */
  assert_int_equal(ta_certdoc_add_key(p, doc, ed, 0, 0), TA_OK);
  assert_null(ta_certdoc_serialize(p, doc));
  /* A private key publishes only its public half. */
  ta_certdoc_t *d2 = ta_certdoc_make(p, "app2", "x");
  ta_key_t *gen;
  assert_int_equal(ta_key_generate(p, TA_ALG_ECDSA_P384_SHA384, 0, &gen, NULL), TA_OK);
  assert_int_equal(ta_certdoc_add_key(p, d2, gen, 0, 0), TA_OK);
  assert_int_equal(ta_certdoc_add_protocol(p, d2, "rfc9421"), TA_OK);
  char *text = ta_certdoc_serialize(p, d2);
  assert_non_null(text);
  assert_null(strstr(text, "PRIVATE"));
  for (int i = 0; i < TA_CERTDOC_MAX_KEYS - 1; i++) {
    ta_key_t *more;
    assert_int_equal(ta_key_generate(p, TA_ALG_ED25519, 0, &more, NULL), TA_OK);
    assert_int_equal(ta_certdoc_add_key(p, d2, more, 0, 0), TA_OK);
  }
  assert_non_null(ta_certdoc_serialize(p, d2));
  assert_int_equal(ta_certdoc_add_key(p, d2, ed, 0, 0), TA_E_CERTDOC_INVALID);
}

/* docs/CERTIFICATE.md's example is a real document. */
static void test_documented_example_parses(void **state)
{
  apr_pool_t *p = *state;
  char *md = slurp(p, TA_SRCDIR "/docs/CERTIFICATE.md");
  char *start = strstr(md, "```json\n");
  assert_non_null(start);
  start += strlen("```json\n");
  char *end = strstr(start, "```");
  assert_non_null(end);
  ta_certdoc_t *doc;
  const char *err = NULL;
  if (ta_certdoc_parse(p, start, (size_t)(end - start), &doc, &err) != TA_OK)
    fail_msg("docs/CERTIFICATE.md example: %s", err);
  assert_string_equal(doc->id, "jira:1234567");
  assert_int_equal(doc->n_keys, 2);
  assert_int_equal(doc->keys[1].alg, TA_ALG_ECDSA_P256_SHA256);
  assert_true(ta_certdoc_has_protocol(doc, "rfc9421"));
  /* and it is in the canonical layout the serializer produces */
  char *text = ta_certdoc_serialize(p, doc);
  assert_int_equal(strlen(text), (size_t)(end - start));
  assert_memory_equal(text, start, strlen(text));
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_key_validity_window, setup, teardown),
    cmocka_unit_test_setup_teardown(test_time_format, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_text, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unknown_members_ignored_and_seraph_kept, setup, teardown),
    cmocka_unit_test_setup_teardown(test_builder_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_documented_example_parses, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

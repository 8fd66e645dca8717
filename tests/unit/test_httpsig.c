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
#include <openssl/evp.h>

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
  while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 2) {
      char *grown = realloc(buf, cap * 2);
      if (!grown)
        free(buf);
      buf = grown;
      cap *= 2;
    }
  }
  if (!buf) {
    fclose(f);
    return NULL;
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


/* ---- our own requests: failure modes ------------------------------------ */

#define REQUEST_TEXT \
  "POST /rest/api/2/issue?expand=names HTTP/1.1\r\n" \
  "Host: jira.example.com\r\n" \
  "TrustedApp-User: alice\r\n" \
  "Content-Type: application/json\r\n" \
  "Content-Digest: sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:\r\n" \
  "\r\n" \
  "{\"hello\": \"world\"}"

static const char *const profile_components[] = {
  "@method", "@target-uri", "trustedapp-user", "content-digest",
};

static ta_key_t *fresh_key(ta_alg_t alg)
{
  ta_key_t *k = NULL;
  const char *err = NULL;
  assert_int_equal(ta_key_generate(pool, alg, 2048, &k, &err), TA_OK);
  return k;
}

static void default_params(ta_httpsig_sign_params_t *sp)
{
  memset(sp, 0, sizeof(*sp));
  sp->label = "ta";
  sp->components = profile_components;
  sp->n_components = sizeof(profile_components) / sizeof(profile_components[0]);
  sp->created = 1764115200;
  sp->expires = -1;
  sp->keyid = "confluence";
  sp->nonce = "Xq3vJ9kLm2Np8Rt5Wy7Za1";
}

/* A request signed by key with the default parameters. */
static ta_msg_t *signed_request(const ta_key_t *key)
{
  ta_msg_t *m = parse_msg(REQUEST_TEXT);
  ta_httpsig_sign_params_t sp;
  default_params(&sp);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, NULL, NULL, NULL, NULL), TA_OK);
  return m;
}

/* The request with the given Signature-Input / Signature values (NULL: absent). */
static ta_msg_t *request_with(const char *input, const char *signature)
{
  ta_msg_t *m = parse_msg(REQUEST_TEXT);
  if (input)
    ta_msg_add_field(m, "Signature-Input", input);
  if (signature)
    ta_msg_add_field(m, "Signature", signature);
  return m;
}

static void set_field(ta_msg_t *m, const char *name, const char *value)
{
  ta_field_t *f = (ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    if (strcasecmp(f[i].name, name) == 0)
      f[i].value = value;
}

#define SIG64 ":" \
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:"

static ta_status_t parse_status(const char *input, const char *signature, const char *label)
{
  ta_httpsig_t *sig = NULL;
  return ta_httpsig_parse(pool, request_with(input, signature), label, &sig);
}

static void test_roundtrip_and_accessors(void **state)
{
  (void)state;
  ta_key_t *key = fresh_key(TA_ALG_ED25519);
  ta_msg_t *m = signed_request(key);
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_OK);
  assert_string_equal(sig->label, "ta");
  assert_string_equal(sig->keyid, "confluence");
  assert_string_equal(sig->nonce, "Xq3vJ9kLm2Np8Rt5Wy7Za1");
  assert_true(sig->has_created);
  assert_int_equal(sig->created, 1764115200);
  assert_false(sig->has_expires);
  assert_null(sig->alg);
  assert_null(sig->tag);
  assert_int_equal(sig->n_components, 4);
  assert_true(ta_httpsig_covers(sig, "@method"));
  assert_true(ta_httpsig_covers(sig, "\"@target-uri\""));
  assert_true(ta_httpsig_covers(sig, "content-digest"));
  assert_false(ta_httpsig_covers(sig, "content-digest;req"));
  assert_false(ta_httpsig_covers(sig, "@path"));
  assert_false(ta_httpsig_covers(sig, "not a component"));
  assert_true(ta_httpsig_covers_field(sig, "TrustedApp-User"));
  assert_false(ta_httpsig_covers_field(sig, "content-type"));
  assert_false(ta_httpsig_covers_field(sig, "@method"));
  assert_string_equal(sig->signature_params,
                      "(\"@method\" \"@target-uri\" \"trustedapp-user\" \"content-digest\")"
                      ";created=1764115200;keyid=\"confluence\";nonce=\"Xq3vJ9kLm2Np8Rt5Wy7Za1\"");
  assert_string_equal(sig->base,
                      "\"@method\": POST\n"
                      "\"@target-uri\": https://jira.example.com/rest/api/2/issue?expand=names\n"
                      "\"trustedapp-user\": alice\n"
                      "\"content-digest\": sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:\n"
                      "\"@signature-params\": (\"@method\" \"@target-uri\" \"trustedapp-user\" \"content-digest\")"
                      ";created=1764115200;keyid=\"confluence\";nonce=\"Xq3vJ9kLm2Np8Rt5Wy7Za1\"");
  /* every algorithm of the profile signs and verifies */
  const ta_alg_t algs[] = {TA_ALG_ECDSA_P256_SHA256, TA_ALG_ECDSA_P384_SHA384,
                           TA_ALG_RSA_PSS_SHA512, TA_ALG_RSA_V1_5_SHA256};
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
    ta_key_t *k = fresh_key(algs[i]);
    ta_msg_t *mm = parse_msg(REQUEST_TEXT);
    ta_httpsig_sign_params_t sp;
    default_params(&sp);
    sp.alg = ta_alg_name(algs[i]);
    assert_int_equal(ta_httpsig_sign(pool, mm, &sp, k, 1, NULL, NULL, NULL, NULL), TA_OK);
    assert_int_equal(ta_httpsig_parse(pool, mm, "ta", &sig), TA_OK);
    assert_string_equal(sig->alg, ta_alg_name(algs[i]));
    assert_int_equal(ta_httpsig_verify(sig, k), TA_OK);
  }
}

static void test_tampering(void **state)
{
  (void)state;
  ta_key_t *key = fresh_key(TA_ALG_ED25519);
  ta_httpsig_t *sig = NULL;

  /* a covered header changed in transit */
  ta_msg_t *m = signed_request(key);
  set_field(m, "TrustedApp-User", "admin");
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_BAD_SIGNATURE);

  /* the target changed (query) */
  m = signed_request(key);
  m->query = "expand=all";
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_BAD_SIGNATURE);

  /* an uncovered header changed: still valid */
  m = signed_request(key);
  set_field(m, "Content-Type", "text/plain");
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_OK);

  /* a parameter changed (created) */
  m = signed_request(key);
  const char *input = ta_msg_field(pool, m, "Signature-Input");
  set_field(m, "Signature-Input", apr_pstrcat(pool, input, ";tag=\"x\"", NULL));
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_BAD_SIGNATURE);

  /* the base itself altered */
  m = signed_request(key);
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  ta_httpsig_t copy = *sig;
  char *base = apr_pstrdup(pool, sig->base);
  base[3] ^= 1;
  copy.base = base;
  assert_int_equal(ta_httpsig_verify(&copy, key), TA_E_BAD_SIGNATURE);

  /* one bit of the signature flipped */
  unsigned char *bytes = apr_pmemdup(pool, sig->sig, sig->sig_len);
  bytes[10] ^= 0x40;
  copy = *sig;
  copy.sig = bytes;
  assert_int_equal(ta_httpsig_verify(&copy, key), TA_E_BAD_SIGNATURE);

  /* truncated signature value */
  copy = *sig;
  copy.sig_len = sig->sig_len - 1;
  assert_int_equal(ta_httpsig_verify(&copy, key), TA_E_SIG_ENCODING);
  char *trunc = apr_psprintf(pool, "ta=:%s:", ta_b64_encode(pool, TA_B64_STD, sig->sig, 48));
  set_field(m, "Signature", trunc);
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_SIG_ENCODING);
}

static void test_wrong_key_and_alg(void **state)
{
  (void)state;
  ta_key_t *key = fresh_key(TA_ALG_ED25519);
  ta_msg_t *m = signed_request(key);
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, fresh_key(TA_ALG_ED25519)), TA_E_BAD_SIGNATURE);
  assert_int_not_equal(ta_httpsig_verify(sig, fresh_key(TA_ALG_ECDSA_P256_SHA256)), TA_OK);

  /* alg parameter disagreeing with the key: refused before any crypto */
  ta_httpsig_sign_params_t sp;
  default_params(&sp);
  sp.alg = "ed25519";
  m = parse_msg(REQUEST_TEXT);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, NULL, NULL, NULL, NULL), TA_OK);
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_OK);
  assert_int_equal(ta_httpsig_verify(sig, fresh_key(TA_ALG_ECDSA_P256_SHA256)), TA_E_ALG_MISMATCH);
  sig->alg = "hmac-sha256";
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_ALG_MISMATCH);
  sig->alg = "no-such-alg";
  assert_int_equal(ta_httpsig_verify(sig, key), TA_E_ALG_MISMATCH);

  /* the signer refuses an alg that is not its key's */
  sp.alg = "rsa-pss-sha512";
  m = parse_msg(REQUEST_TEXT);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, NULL, NULL, NULL, NULL), TA_E_ALG_MISMATCH);
  assert_int_equal(ta_msg_field_count(m, "Signature"), 0);
}

static void test_presence_and_labels(void **state)
{
  (void)state;
  const char *in = "ta=(\"@method\");created=1;keyid=\"a\"";
  assert_int_equal(parse_status(NULL, NULL, "ta"), TA_E_NO_CREDENTIALS);
  assert_int_equal(parse_status(NULL, "ta=" SIG64, "ta"), TA_E_SIG_INPUT_MISSING);
  assert_int_equal(parse_status(in, NULL, "ta"), TA_E_SIG_MISSING);
  assert_int_equal(parse_status(in, "other=" SIG64, "ta"), TA_E_SIG_MISSING);
  assert_int_equal(parse_status(in, "ta=" SIG64, "ta"), TA_OK);
  /* the only signature is taken whatever its label */
  assert_int_equal(parse_status("x=(\"@method\");keyid=\"a\"", "x=" SIG64, "ta"), TA_OK);
  assert_int_equal(parse_status("x=(\"@method\");keyid=\"a\"", "x=" SIG64, NULL), TA_OK);
  /* several: the preferred label decides, or nothing does */
  const char *two = "a=(\"@method\");keyid=\"a\", b=(\"@path\");keyid=\"b\"";
  assert_int_equal(parse_status(two, "a=" SIG64 ", b=" SIG64, "ta"), TA_E_SIG_AMBIGUOUS);
  assert_int_equal(parse_status(two, "a=" SIG64 ", b=" SIG64, NULL), TA_E_SIG_AMBIGUOUS);
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, request_with(two, "a=" SIG64 ", b=" SIG64), "b", &sig), TA_OK);
  assert_string_equal(sig->label, "b");
  assert_string_equal(sig->keyid, "b");
  assert_true(ta_httpsig_covers(sig, "@path"));
  assert_false(ta_httpsig_covers(sig, "@method"));
  /* members split over several field lines are one dictionary */
  ta_msg_t *m = request_with("a=(\"@method\");keyid=\"a\"", "a=" SIG64);
  ta_msg_add_field(m, "Signature-Input", "ta=(\"@authority\");keyid=\"t\"");
  ta_msg_add_field(m, "Signature", "ta=" SIG64);
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_string_equal(sig->keyid, "t");
  /* shapes */
  assert_int_equal(parse_status("ta=\"@method\"", "ta=" SIG64, "ta"), TA_E_SF_PARSE);
  assert_int_equal(parse_status(in, "ta=(" SIG64 ")", "ta"), TA_E_SIG_ENCODING);
  assert_int_equal(parse_status(in, "ta=\"c2ln\"", "ta"), TA_E_SIG_ENCODING);
  assert_int_equal(parse_status(in, "ta=::", "ta"), TA_E_SIG_ENCODING);
  assert_int_equal(parse_status("ta=(\"@method\" ;created=1", "ta=" SIG64, "ta"), TA_E_SF_PARSE);
  assert_int_equal(parse_status("ta=(\"@method\");created=1;keyid=\"a", "ta=" SIG64, "ta"), TA_E_SF_PARSE);
  assert_int_equal(parse_status(in, "ta=:AAAA", "ta"), TA_E_SF_PARSE);
  assert_int_equal(parse_status("", "ta=" SIG64, "ta"), TA_E_SIG_INPUT_MISSING);
}

static void test_parameters(void **state)
{
  (void)state;
  const char *sig64 = "ta=" SIG64;
  assert_int_equal(parse_status("ta=();created=\"1\"", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();created=-1", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();created=1.5", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();created=253402300800", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();expires=?1", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();keyid=confluence", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();nonce=12345", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();alg=ed25519", sig64, "ta"), TA_E_PARAM_INVALID);
  assert_int_equal(parse_status("ta=();tag=:AAAA:", sig64, "ta"), TA_E_PARAM_INVALID);
  char *long_nonce = apr_palloc(pool, TA_HTTPSIG_MAX_STRING_PARAM + 2);
  memset(long_nonce, 'n', TA_HTTPSIG_MAX_STRING_PARAM + 1);
  long_nonce[TA_HTTPSIG_MAX_STRING_PARAM + 1] = '\0';
  assert_int_equal(parse_status(apr_psprintf(pool, "ta=();nonce=\"%s\"", long_nonce), sig64, "ta"),
                   TA_E_PARAM_INVALID);
  /* unknown parameters are signed but ignored */
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, request_with("ta=();created=0;x-ext=?1;expires=253402300799", sig64),
                                    "ta", &sig), TA_OK);
  assert_int_equal(sig->created, 0);
  assert_int_equal(sig->expires, INT64_C(253402300799));
  assert_string_equal(sig->signature_params, "();created=0;x-ext;expires=253402300799");
}

static void test_components_and_limits(void **state)
{
  (void)state;
  const char *sig64 = "ta=" SIG64;
  ta_httpsig_t *sig = NULL;
  /* duplicates and bad identifiers */
  assert_int_equal(parse_status("ta=(\"@method\" \"@path\" \"@method\")", sig64, "ta"), TA_E_COMPONENT_DUP);
  assert_int_equal(parse_status("ta=(\"content-digest\";sf \"content-digest\";sf)", sig64, "ta"), TA_E_COMPONENT_DUP);
  assert_int_equal(parse_status("ta=(\"Content-Type\")", sig64, "ta"), TA_E_COMPONENT_INVALID);
  assert_int_equal(parse_status("ta=(@method)", sig64, "ta"), TA_E_SF_PARSE);
  assert_int_equal(parse_status("ta=(content-type)", sig64, "ta"), TA_E_COMPONENT_INVALID);
  assert_int_equal(parse_status("ta=(\"@signature-params\")", sig64, "ta"), TA_E_COMPONENT_INVALID);
  assert_int_equal(parse_status("ta=(\"@method\";sf)", sig64, "ta"), TA_E_COMPONENT_INVALID);
  assert_int_equal(parse_status("ta=(\"content-type\";sf)", sig64, "ta"), TA_E_COMPONENT_INVALID);
  /* a bad identifier after good ones: only the good ones are exposed */
  assert_int_equal(ta_httpsig_parse(pool, request_with("ta=(\"@method\" \"Bad\" \"@path\");keyid=\"k\"", sig64),
                                    "ta", &sig), TA_E_COMPONENT_INVALID);
  assert_int_equal(sig->n_components, 1);
  assert_true(ta_httpsig_covers(sig, "@method"));
  assert_false(ta_httpsig_covers(sig, "@path"));
  assert_false(ta_httpsig_covers_field(sig, "bad"));
  /* missing: *out still carries the parameters for the log */
  ta_status_t st = ta_httpsig_parse(pool, request_with("ta=(\"@method\" \"date\");keyid=\"confluence\"", sig64),
                                    "ta", &sig);
  assert_int_equal(st, TA_E_COMPONENT_MISSING);
  assert_non_null(sig);
  assert_string_equal(sig->keyid, "confluence");
  assert_null(sig->base);
  assert_int_equal(ta_httpsig_verify(sig, fresh_key(TA_ALG_ED25519)), TA_E_INTERNAL);

  /* 64 components pass the limit, 65 do not */
  const char *list64 = "";
  for (int i = 0; i < 64; i++)
    list64 = apr_psprintf(pool, "%s%s\"x-h%d\"", list64, i ? " " : "", i);
  ta_msg_t *m = request_with(apr_psprintf(pool, "ta=(%s)", list64), sig64);
  for (int i = 0; i < 64; i++)
    ta_msg_add_field(m, apr_psprintf(pool, "X-H%d", i), "v");
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  m = request_with(apr_psprintf(pool, "ta=(%s \"x-h64\")", list64), sig64);
  for (int i = 0; i < 65; i++)
    ta_msg_add_field(m, apr_psprintf(pool, "X-H%d", i), "v");
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_E_TOO_LARGE);

  /* field size limits: exactly 8 KiB passes the size check, one more byte does not */
  char *big = apr_palloc(pool, TA_SIG_MAX_FIELD + 2);
  memset(big, 'a', TA_SIG_MAX_FIELD + 1);
  memcpy(big, "ta=();tag=\"", 11);
  big[TA_SIG_MAX_FIELD - 1] = '"';
  big[TA_SIG_MAX_FIELD] = '\0';
  assert_int_equal(parse_status(big, sig64, "ta"), TA_E_PARAM_INVALID); /* tag > 1024: checked after size */
  big[TA_SIG_MAX_FIELD] = ' ';
  big[TA_SIG_MAX_FIELD + 1] = '\0';
  assert_int_equal(parse_status(big, sig64, "ta"), TA_E_TOO_LARGE);
  char *big_sig = apr_palloc(pool, TA_SIG_MAX_FIELD + 8);
  memset(big_sig, 'A', TA_SIG_MAX_FIELD + 7);
  memcpy(big_sig, "ta=:", 4);
  big_sig[TA_SIG_MAX_FIELD + 6] = ':';
  big_sig[TA_SIG_MAX_FIELD + 7] = '\0';
  assert_int_equal(parse_status("ta=()", big_sig, "ta"), TA_E_TOO_LARGE);
  /* the limit is on the combined value of all field lines */
  m = request_with("ta=()", sig64);
  for (int i = 0; i < 20; i++)
    ta_msg_add_field(m, "Signature-Input", apr_psprintf(pool, "x%d=(%s)", i, list64));
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_E_TOO_LARGE);
}

/* @signature-params is the canonical serialization of the selected inner
 * list (what ta_sf_serialize_member makes of it), whatever the received
 * spacing, parameter forms or identifier parameters; also when an
 * identifier is refused and the signature is still returned for the log. */
static void test_signature_params_canonical(void **state)
{
  (void)state;
  static const char *const inputs[] = {
    "ta=()",
    "ta=();created=1",
    "ta=(\"@method\")",
    "ta=(  \"@method\"   \"@target-uri\"  \"trustedapp-user\" );created=1764140000;keyid=\"bench\";nonce=\"n-1\"",
    "ta=(\"@query-param\";name=\"Pet\" \"example-dict\";key=\"a\" \"content-digest\";sf \"date\";bs \"x\";req=?0)",
    "ta=(\"@status\";req \"x-y\");alg=\"ed25519\";tag=\"t\";x-ext;x-n=1.50;x-t=tok;x-b=:AAE=:;expires=2",
    "ta=(\"@method\" \"Bad\");keyid=\"k\";created=3",
    "ta=(\"@method\" \"@method\");keyid=\"k\"",
    "ta=(\"@method\";bogus);keyid=\"k\"",
  };
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    ta_sf_dict_t d;
    assert_int_equal(ta_sf_parse_dict(pool, inputs[i], strlen(inputs[i]), &d), TA_OK);
    const char *want = ta_sf_serialize_member(pool, ta_sf_dict_get(&d, "ta"));
    assert_non_null(want);
    ta_httpsig_t *sig = NULL;
    ta_status_t st = ta_httpsig_parse(pool, request_with(inputs[i], "ta=" SIG64), "ta", &sig);
    if (!sig)
      fail_msg("%s: %s without a signature", inputs[i], ta_error_token(st));
    assert_string_equal(sig->signature_params, want);
    if (st == TA_OK)
      assert_true(strstr(sig->base, want) != NULL);
    else
      assert_null(sig->base);
  }
}

static void test_signer_errors(void **state)
{
  (void)state;
  ta_key_t *key = fresh_key(TA_ALG_ED25519);
  ta_httpsig_sign_params_t sp;
  ta_msg_t *m;
  const char *input, *signature;

  default_params(&sp);
  sp.label = "Ta";
  m = parse_msg(REQUEST_TEXT);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_PARAM_INVALID);
  default_params(&sp);
  sp.nonce = "caf\xc3\xa9";
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_PARAM_INVALID);
  default_params(&sp);
  sp.created = TA_HTTPSIG_MAX_TIME + 1;
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_PARAM_INVALID);
  const char *const with_date[] = {"@method", "date"};
  default_params(&sp);
  sp.components = with_date;
  sp.n_components = 2;
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_COMPONENT_MISSING);
  const char *const dup[] = {"@method", "\"@method\""};
  sp.components = dup;
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_COMPONENT_DUP);
  const char *const bad[] = {"@method", "Content-Type"};
  sp.components = bad;
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_COMPONENT_INVALID);
  assert_int_equal(ta_msg_field_count(m, "Signature-Input"), 0);

  /* a second signature gets its own label; the same label twice is refused */
  default_params(&sp);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_OK);
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_E_SIG_AMBIGUOUS);
  sp.label = "proxy";
  sp.created = 1764115260;
  assert_int_equal(ta_httpsig_sign(pool, m, &sp, key, 1, &input, &signature, NULL, NULL), TA_OK);
  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_int_equal(sig->created, 1764115200);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_OK);
  assert_int_equal(ta_httpsig_parse(pool, m, "proxy", &sig), TA_OK);
  assert_int_equal(sig->created, 1764115260);
  assert_int_equal(ta_httpsig_verify(sig, key), TA_OK);
  assert_int_equal(ta_httpsig_parse(pool, m, NULL, &sig), TA_E_SIG_AMBIGUOUS);
}

/* ---- docs/PROTOCOL.md stays true ------------------------------------------ */

#define PROTOCOL_DOC TA_SRCDIR "/docs/PROTOCOL.md"

/* Text between "<!-- name:begin -->\n" and "<!-- name:end -->", inside its
 * fenced code block when it has one. */
static char *doc_block(const char *doc, const char *name, int fenced)
{
  const char *begin = strstr(doc, apr_psprintf(pool, "<!-- %s:begin -->\n", name));
  const char *end = strstr(doc, apr_psprintf(pool, "<!-- %s:end -->", name));
  if (!begin || !end || end < begin)
    fail_msg("PROTOCOL.md: no %s block", name);
  begin = strchr(begin, '\n') + 1;
  if (fenced) {
    begin = strchr(begin, '\n') + 1;          /* past ```lang */
    const char *close = end;
    while (close > begin && close[-1] == '\n')
      close--;
    if (close - begin < 3 || strncmp(close - 3, "```", 3) != 0)
      fail_msg("PROTOCOL.md: %s block is not fenced", name);
    end = close - 3;
  }
  while (end > begin && end[-1] == '\n')
    end--;
  return apr_pstrmemdup(pool, begin, (apr_size_t)(end - begin));
}

typedef struct {
  int code;
  const char *token;
  int status;
  const char *summary;
} error_row_t;

static int cmp_rows(const void *a, const void *b)
{
  return ((const error_row_t *)a)->code - ((const error_row_t *)b)->code;
}

static void test_protocol_doc_error_table(void **state)
{
  (void)state;
  error_row_t rows[] = {
#define TA_X_ROW(e, n, tok, st, sum, fix) {n, tok, st, sum},
    TA_ERROR_TABLE(TA_X_ROW)
#undef TA_X_ROW
  };
  size_t n = sizeof(rows) / sizeof(rows[0]);
  qsort(rows, n, sizeof(rows[0]), cmp_rows);
  char *want = apr_pstrdup(pool, "| Code | Token | HTTP | Meaning |\n|---:|---|---:|---|");
  for (size_t i = 0; i < n; i++)
    want = apr_psprintf(pool, "%s\n| %d | `%s` | %d | %s |", want, rows[i].code, rows[i].token,
                        rows[i].status, rows[i].summary);
  char *doc = slurp(PROTOCOL_DOC, NULL);
  assert_non_null(doc);
  char *have = doc_block(doc, "error-table", 0);
  if (strcmp(have, want) != 0)
    fail_msg("docs/PROTOCOL.md error table differs from lib/ta_error.h; replace the block with:\n%s", want);
}

static void test_protocol_doc_example(void **state)
{
  (void)state;
  char *doc = slurp(PROTOCOL_DOC, NULL);
  assert_non_null(doc);
  const char *lf = doc_block(doc, "example-request", 1);
  const char *want_base = doc_block(doc, "example-base", 1);
  /* the wire form has CRLF line ends in the head */
  const char *sep = strstr(lf, "\n\n");
  assert_non_null(sep);
  char *head = apr_pstrmemdup(pool, lf, (apr_size_t)(sep - lf));
  const char *wire = "";
  for (char *line = head, *next; line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    wire = apr_pstrcat(pool, wire, line, "\r\n", NULL);
  }
  wire = apr_pstrcat(pool, wire, "\r\n", sep + 2, NULL);

  ta_msg_t *m = NULL;
  const char *body;
  size_t body_len;
  assert_int_equal(ta_msg_parse_text(pool, wire, strlen(wire), "https", &m, &body, &body_len), TA_OK);
  /* Content-Length and Content-Digest describe the body shown */
  assert_int_equal(atoi(ta_msg_field(pool, m, "Content-Length")), (int)body_len);
  unsigned char md[32];
  unsigned int md_len = 0;
  assert_int_equal(EVP_Digest(body, body_len, md, &md_len, EVP_sha256(), NULL), 1);
  assert_string_equal(ta_msg_field(pool, m, "Content-Digest"),
                      apr_psprintf(pool, "sha-256=:%s:", ta_b64_encode(pool, TA_B64_STD, md, md_len)));

  ta_httpsig_t *sig = NULL;
  assert_int_equal(ta_httpsig_parse(pool, m, "ta", &sig), TA_OK);
  assert_string_equal(sig->base, want_base);
  assert_int_equal(ta_httpsig_verify(sig, load_key("test-key-ed25519", "ed25519", 0)), TA_OK);
  /* the profile's requirements hold for it */
  assert_true(ta_httpsig_covers(sig, "@method"));
  assert_true(ta_httpsig_covers(sig, "@target-uri"));
  assert_true(ta_httpsig_covers_field(sig, "trustedapp-user"));
  assert_true(ta_httpsig_covers_field(sig, "content-digest"));
  assert_string_equal(sig->keyid, "confluence");
  assert_non_null(sig->nonce);

  /* our signer produces exactly these fields (Ed25519 is deterministic) */
  ta_msg_t *unsigned_msg = without_signatures(m);
  ta_httpsig_sign_params_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.label = "ta";
  const char **ids = apr_pcalloc(pool, sig->n_components * sizeof(char *));
  for (size_t i = 0; i < sig->n_components; i++)
    ids[i] = sig->components[i].id;
  sp.components = ids;
  sp.n_components = sig->n_components;
  sp.created = sig->created;
  sp.expires = sig->has_expires ? sig->expires : -1;
  sp.keyid = sig->keyid;
  sp.alg = sig->alg;
  sp.nonce = sig->nonce;
  sp.tag = sig->tag;
  const char *input, *signature;
  assert_int_equal(ta_httpsig_sign(pool, unsigned_msg, &sp, load_key("test-key-ed25519", "ed25519", 1), 0,
                                   &input, &signature, NULL, NULL), TA_OK);
  assert_string_equal(input, ta_msg_field(pool, m, "Signature-Input"));
  assert_string_equal(signature, ta_msg_field(pool, m, "Signature"));
}

int main(void)
{
  apr_initialize();
  apr_pool_create(&pool, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors_json),
    cmocka_unit_test(test_cases_dir),
    cmocka_unit_test(test_roundtrip_and_accessors),
    cmocka_unit_test(test_tampering),
    cmocka_unit_test(test_wrong_key_and_alg),
    cmocka_unit_test(test_presence_and_labels),
    cmocka_unit_test(test_parameters),
    cmocka_unit_test(test_components_and_limits),
    cmocka_unit_test(test_signature_params_canonical),
    cmocka_unit_test(test_signer_errors),
    cmocka_unit_test(test_protocol_doc_error_table),
    cmocka_unit_test(test_protocol_doc_example),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_pool_destroy(pool);
  apr_terminate();
  return rc;
}

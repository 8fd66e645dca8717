/* Keys and signature primitives against the RFC 9421 Appendix B material:
 * every reference key in every form, the RFC's signatures, re-signing the
 * deterministic algorithms to the RFC's bytes, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>
#include <apr_thread_proc.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ta_b64.h"
#include "ta_keys.h"

#define REF TA_SHARED_DIR "/reference/rfc9421/"
#define KEYS REF "keys/"

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

static char *slurp(apr_pool_t *p, const char *path, size_t *len)
{
  apr_file_t *f;
  apr_finfo_t fi;
  if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p) != APR_SUCCESS)
    fail_msg("cannot open %s", path);
  assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
  char *buf = apr_palloc(p, (apr_size_t)fi.size + 1);
  apr_size_t n = (apr_size_t)fi.size;
  assert_int_equal(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
  apr_file_close(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* Loads a reference key file, which must succeed and be of the kind asked for. */
static ta_key_t *load_key_file(apr_pool_t *p, const char *file, ta_alg_t alg, int private_key)
{
  size_t len;
  char *data = slurp(p, apr_pstrcat(p, KEYS, file, NULL), &len);
  ta_key_t *k = NULL;
  const char *err = NULL;
  ta_status_t st = private_key ? ta_key_load_private(p, data, len, alg, &k, &err)
                               : ta_key_load_public(p, data, len, alg, &k, &err);
  if (st != TA_OK)
    fail_msg("%s: %s", file, err ? err : "(no reason)");
  assert_int_equal(ta_key_is_private(k) != 0, private_key);
  return k;
}

static ta_key_t *load_pub(apr_pool_t *p, const char *file, ta_alg_t alg)
{
  return load_key_file(p, file, alg, 0);
}

static ta_key_t *load_priv(apr_pool_t *p, const char *file, ta_alg_t alg)
{
  return load_key_file(p, file, alg, 1);
}

static ta_key_t *shared_secret(apr_pool_t *p)
{
  size_t len;
  char *secret = slurp(p, KEYS "test-shared-secret.bin", &len);
  ta_key_t *k;
  assert_int_equal(len, 64);
  assert_int_equal(ta_key_hmac(p, (unsigned char *)secret, len, &k), TA_OK);
  return k;
}

/* The public half of a JWK file: private members dropped. */
static char *public_jwk(apr_pool_t *p, const char *file, const char *add_alg)
{
  static const char *const priv[] = { "d", "p", "q", "dp", "dq", "qi" };
  json_error_t jerr;
  json_t *j = json_load_file(apr_pstrcat(p, KEYS, file, NULL), 0, &jerr);
  assert_non_null(j);
  for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
    json_object_del(j, priv[i]);
  if (add_alg != NULL)
    json_object_set_new(j, "alg", json_string(add_alg));
  char *s = json_dumps(j, JSON_COMPACT);
  char *out = apr_pstrdup(p, s);
  free(s);
  json_decref(j);
  return out;
}

static ta_status_t load_jwk_str(apr_pool_t *p, const char *jwk, ta_alg_t alg, ta_key_t **k,
                                const char **err)
{
  return ta_key_load_public(p, jwk, strlen(jwk), alg, k, err);
}

/* DER body of the first PEM block of a file, decoded independently of the
 * code under test. */
static unsigned char *pem_file_der(apr_pool_t *p, const char *file, long *len)
{
  size_t n;
  char *data = slurp(p, apr_pstrcat(p, KEYS, file, NULL), &n);
  BIO *bio = BIO_new_mem_buf(data, (int)n);
  char *name = NULL, *header = NULL;
  unsigned char *der = NULL;
  assert_int_equal(PEM_read_bio(bio, &name, &header, &der, len), 1);
  unsigned char *out = apr_pmemdup(p, der, (apr_size_t)*len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(der);
  BIO_free(bio);
  return out;
}

static void test_alg_names(void **state)
{
  (void)state;
  for (int a = TA_ALG_ED25519; a <= TA_ALG_HMAC_SHA256; a++) {
    const char *name = ta_alg_name((ta_alg_t)a);
    assert_non_null(name);
    assert_int_equal(ta_alg_from_name(name), a);
  }
  assert_string_equal(ta_alg_name(TA_ALG_RSA_V1_5_SHA256), "rsa-v1_5-sha256");
  assert_null(ta_alg_name(TA_ALG_NONE));
  assert_int_equal(ta_alg_from_name("RSA-PSS-SHA512"), TA_ALG_NONE);
  assert_int_equal(ta_alg_from_name("rsa-pss-sha256"), TA_ALG_NONE);
  assert_int_equal(ta_alg_from_name(NULL), TA_ALG_NONE);
}

/* Every reference key, every form, one fingerprint per key. The expected
 * fingerprints were computed with the openssl CLI:
 *   openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64 */
static void test_load_every_reference_key(void **state)
{
  apr_pool_t *p = *state;
  const struct {
    const char *kid; ta_alg_t alg, infer; int bits; const char *fp; const char *pub;
  } keys[] = {
    { "test-key-ed25519", TA_ALG_ED25519, TA_ALG_ED25519, 256,
      "SHA256:NFcWBst6DXG+N35nHdzMrioWntdzNZghQSkjHNMMSjw", "test-key-ed25519.pub.pem" },
    { "test-key-ecc-p256", TA_ALG_ECDSA_P256_SHA256, TA_ALG_ECDSA_P256_SHA256, 256,
      "SHA256:VfljYbeMu4Tx/GBLBxjoK9kau0bY/CWuhxs1+7+LeXQ", "test-key-ecc-p256.pub.pem" },
    { "test-key-rsa", TA_ALG_RSA_V1_5_SHA256, TA_ALG_NONE, 2048,
      "SHA256:xz7s0xi9OBPyQCpmDYqQAQyjXWCdGTd9XuevIAcTIp8", "test-key-rsa.pub.pem" },
    { "test-key-rsa-pss", TA_ALG_RSA_PSS_SHA512, TA_ALG_NONE, 2048,
      "SHA256:coWcuvIaCzmLHyVxK77RSLHYWgxrgkF26zBkBcqm8LI", "test-key-rsa-pss.pub.pem" },
  };
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    ta_key_t *k = load_pub(p, keys[i].pub, keys[i].alg);
    assert_int_equal(ta_key_alg(k), keys[i].alg);
    assert_int_equal(ta_key_bits(k), keys[i].bits);
    assert_string_equal(ta_key_fingerprint(p, k), keys[i].fp);

    /* Inference from the key alone where the key type decides. */
    if (keys[i].infer != TA_ALG_NONE)
      assert_int_equal(ta_key_alg(load_pub(p, keys[i].pub, TA_ALG_NONE)), keys[i].infer);

    /* The SPKI PEM we emit loads back to the same key. */
    char *pem = ta_key_public_pem(p, k);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    ta_key_t *again;
    assert_int_equal(ta_key_load_public(p, pem, strlen(pem), keys[i].alg, &again, NULL), TA_OK);
    assert_string_equal(ta_key_fingerprint(p, again), keys[i].fp);

    /* JWK, public members only. */
    char *jwk = public_jwk(p, apr_pstrcat(p, keys[i].kid, ".jwk.json", NULL), NULL);
    const char *err = NULL;
    if (load_jwk_str(p, jwk, keys[i].alg, &again, &err) != TA_OK)
      fail_msg("%s JWK: %s", keys[i].kid, err);
    assert_string_equal(ta_key_fingerprint(p, again), keys[i].fp);

    /* Private key from both the split and the combined (B.1 layout) file. */
    ta_key_t *priv = load_priv(p, apr_pstrcat(p, keys[i].kid, ".priv.pem", NULL), keys[i].alg);
    ta_key_t *comb = load_priv(p, apr_pstrcat(p, keys[i].kid, ".pem", NULL), keys[i].alg);
    assert_int_equal(ta_key_alg(priv), keys[i].alg);
    assert_string_equal(ta_key_fingerprint(p, priv), ta_key_fingerprint(p, comb));
    /* The rsassaPss private key publishes the rsaEncryption SPKI, so all
     * forms of every key share one fingerprint. */
    assert_string_equal(ta_key_fingerprint(p, priv), keys[i].fp);
    assert_string_equal(ta_key_public_pem(p, priv), ta_key_public_pem(p, k));
    assert_null(ta_key_private_pem(p, k));
    assert_non_null(ta_key_private_pem(p, priv));
  }
  /* CRLF line ends (files edited on Windows) load the same key. */
  size_t n;
  char *lf = slurp(p, KEYS "test-key-ecc-p256.pub.pem", &n);
  char *crlf = apr_palloc(p, 2 * n + 1), *o = crlf;
  for (size_t i = 0; i < n; i++) {
    if (lf[i] == '\n')
      *o++ = '\r';
    *o++ = lf[i];
  }
  ta_key_t *k;
  assert_int_equal(ta_key_load_public(p, crlf, (size_t)(o - crlf), TA_ALG_NONE, &k, NULL), TA_OK);
  assert_string_equal(ta_key_fingerprint(p, k), keys[1].fp);
  /* test-key-rsa also in SPKI form. */
  ta_key_t *spki = load_pub(p, "test-key-rsa.pub.spki.pem", TA_ALG_RSA_V1_5_SHA256);
  assert_string_equal(ta_key_fingerprint(p, spki), keys[2].fp);
}

static void test_der_spki(void **state)
{
  apr_pool_t *p = *state;
  const char *files[] = { "test-key-ed25519.pub.pem", "test-key-ecc-p256.pub.pem", "test-key-rsa.pub.spki.pem" };
  const ta_alg_t algs[] = { TA_ALG_NONE, TA_ALG_NONE, TA_ALG_RSA_PSS_SHA512 };
  for (int i = 0; i < 3; i++) {
    long len;
    unsigned char *der = pem_file_der(p, files[i], &len);
    ta_key_t *k;
    assert_int_equal(ta_key_load_public(p, (char *)der, (size_t)len, algs[i], &k, NULL), TA_OK);
    assert_string_equal(ta_key_fingerprint(p, k), ta_key_fingerprint(p, load_pub(p, files[i], algs[i])));
    /* Trailing bytes after the DER structure are refused. */
    unsigned char *longer = apr_palloc(p, (apr_size_t)len + 1);
    memcpy(longer, der, (size_t)len);
    longer[len] = 0;
    assert_int_equal(ta_key_load_public(p, (char *)longer, (size_t)len + 1, algs[i], &k, NULL), TA_E_KEY_INVALID);
    /* Truncated DER too. */
    assert_int_equal(ta_key_load_public(p, (char *)der, (size_t)len - 1, algs[i], &k, NULL), TA_E_KEY_INVALID);
  }
}

static ta_key_t *case_public_key(apr_pool_t *p, const char *kid, ta_alg_t alg)
{
  if (strcmp(kid, "test-shared-secret") == 0)
    return shared_secret(p);
  const char *file = strcmp(kid, "test-key-rsa") == 0 ? "test-key-rsa.pub.pem"
                     : apr_pstrcat(p, kid, ".pub.pem", NULL);
  return load_pub(p, file, alg);
}

static ta_key_t *case_private_key(apr_pool_t *p, const char *kid, ta_alg_t alg)
{
  if (strcmp(kid, "test-shared-secret") == 0)
    return shared_secret(p);
  return load_priv(p, apr_pstrcat(p, kid, ".priv.pem", NULL), alg);
}

/* The RFC's own signatures over its own bases; the deterministic ones
 * (ed25519, rsa-v1_5-sha256, hmac-sha256) are re-signed to the same bytes. */
static void test_rfc9421_signatures(void **state)
{
  apr_pool_t *p = *state;
  json_error_t jerr;
  json_t *index = json_load_file(REF "cases/index.json", 0, &jerr);
  assert_non_null(index);
  size_t i, n_verified = 0, n_resigned = 0, n_invalid = 0;
  json_t *c;
  json_array_foreach(index, i, c) {
    const char *dir = json_string_value(json_object_get(c, "dir"));
    const char *kid = json_string_value(json_object_get(c, "key"));
    ta_alg_t alg = ta_alg_from_name(json_string_value(json_object_get(c, "alg")));
    int expect_valid = json_is_true(json_object_get(c, "expect_valid"));
    int deterministic = json_is_true(json_object_get(c, "deterministic"));
    size_t base_len, sig_len;
    char *base = slurp(p, apr_pstrcat(p, REF, dir, "/signature_base.txt", NULL), &base_len);
    char *sig = slurp(p, apr_pstrcat(p, REF, dir, "/signature.bin", NULL), &sig_len);
    ta_key_t *pub = case_public_key(p, kid, alg);
    assert_int_equal(ta_key_alg(pub), alg);
    ta_status_t st = ta_key_verify(pub, (unsigned char *)base, base_len, (unsigned char *)sig, sig_len);
    if (st != (expect_valid ? TA_OK : TA_E_BAD_SIGNATURE))
      fail_msg("%s: verify gave %d", dir, st);
    if (!expect_valid) {
      n_invalid++;
      continue;
    }
    n_verified++;
    ta_key_t *priv = case_private_key(p, kid, alg);
    unsigned char *mine;
    size_t mine_len;
    assert_int_equal(ta_key_sign(p, priv, (unsigned char *)base, base_len, &mine, &mine_len), TA_OK);
    assert_int_equal(mine_len, ta_key_sig_len(pub));
    if (deterministic) {
      assert_int_equal(mine_len, sig_len);
      assert_memory_equal(mine, sig, sig_len);
      n_resigned++;
    }
    assert_int_equal(ta_key_verify(pub, (unsigned char *)base, base_len, mine, mine_len), TA_OK);
    /* One changed byte of the base breaks it. */
    base[base_len / 2] ^= 1;
    assert_int_equal(ta_key_verify(pub, (unsigned char *)base, base_len, (unsigned char *)sig, sig_len),
                     TA_E_BAD_SIGNATURE);
  }
  assert_true(n_verified >= 12);
  assert_true(n_resigned >= 3);
  assert_true(n_invalid >= 1);
  json_decref(index);
}

static void check_round_trip(apr_pool_t *p, ta_key_t *priv, ta_key_t *pub)
{
  static const unsigned char msg[] = "\"@method\": POST\n\"@signature-params\": ()";
  unsigned char *sig;
  size_t len;
  size_t want = ta_key_sig_len(pub);
  assert_int_equal(ta_key_sign(p, priv, msg, sizeof(msg) - 1, &sig, &len), TA_OK);
  assert_int_equal(len, want);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, sig, len), TA_OK);
  assert_int_equal(ta_key_verify(priv, msg, sizeof(msg) - 1, sig, len), TA_OK);
  /* tampered data */
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 2, sig, len), TA_E_BAD_SIGNATURE);
  /* tampered signature: first and last byte */
  unsigned char *bad = apr_pmemdup(p, sig, len);
  bad[0] ^= 0x80;
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, bad, len), TA_E_BAD_SIGNATURE);
  bad[0] ^= 0x80;
  bad[len - 1] ^= 1;
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, bad, len), TA_E_BAD_SIGNATURE);
  /* wrong lengths are an encoding error, not a bad signature */
  unsigned char *longer = apr_pcalloc(p, len + 1);
  memcpy(longer, sig, len);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, sig, len - 1), TA_E_SIG_ENCODING);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, longer, len + 1), TA_E_SIG_ENCODING);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, sig, 0), TA_E_SIG_ENCODING);
  /* all-zero signature of the right length */
  unsigned char *zero = apr_pcalloc(p, len);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, zero, len), TA_E_BAD_SIGNATURE);
  /* empty message signs and verifies too */
  assert_int_equal(ta_key_sign(p, priv, NULL, 0, &sig, &len), TA_OK);
  assert_int_equal(ta_key_verify(pub, (const unsigned char *)"", 0, sig, len), TA_OK);
  /* public keys cannot sign */
  if (pub != priv)
    assert_int_equal(ta_key_sign(p, pub, msg, sizeof(msg) - 1, &sig, &len), TA_E_KEY_INVALID);
}

static void test_generate_sign_verify_every_alg(void **state)
{
  apr_pool_t *p = *state;
  const struct { ta_alg_t alg; size_t sig_len; } algs[] = {
    { TA_ALG_ED25519, 64 }, { TA_ALG_ECDSA_P256_SHA256, 64 }, { TA_ALG_ECDSA_P384_SHA384, 96 },
    { TA_ALG_RSA_PSS_SHA512, 256 }, { TA_ALG_RSA_V1_5_SHA256, 256 },
  };
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
    ta_key_t *priv, *pub, *reloaded;
    const char *err = NULL;
    assert_int_equal(ta_key_generate(p, algs[i].alg, 2048, &priv, &err), TA_OK);
    assert_int_equal(ta_key_alg(priv), algs[i].alg);
    assert_true(ta_key_is_private(priv));
    char *pem = ta_key_public_pem(p, priv);
    assert_int_equal(ta_key_load_public(p, pem, strlen(pem), algs[i].alg, &pub, &err), TA_OK);
    assert_int_equal(ta_key_sig_len(pub), algs[i].sig_len);
    assert_string_equal(ta_key_fingerprint(p, pub), ta_key_fingerprint(p, priv));
    check_round_trip(p, priv, pub);
    /* PKCS#8 output loads back as the same key. */
    char *priv_pem = ta_key_private_pem(p, priv);
    assert_non_null(strstr(priv_pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(ta_key_load_private(p, priv_pem, strlen(priv_pem), algs[i].alg, &reloaded, &err), TA_OK);
    assert_string_equal(ta_key_fingerprint(p, reloaded), ta_key_fingerprint(p, priv));
    check_round_trip(p, reloaded, pub);
  }
  /* The RFC's HMAC secret: deterministic, constant-time compare. */
  ta_key_t *h = shared_secret(p);
  check_round_trip(p, h, h);
  assert_null(ta_key_fingerprint(p, h));
  assert_null(ta_key_evp_pkey(h));
}

/* ta_key_verify leaves this thread's OpenSSL error queue empty, where a
 * TLS connection's next call would read it: after a refusal, and after a
 * success that found errors queued by someone before. */
static void test_verify_leaves_no_openssl_error(void **state)
{
  apr_pool_t *p = *state;
  const ta_alg_t algs[] = {TA_ALG_ED25519, TA_ALG_ECDSA_P256_SHA256, TA_ALG_RSA_PSS_SHA512};
  const unsigned char msg[] = "signature base";
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
    ta_key_t *priv;
    const char *err = NULL;
    unsigned char *sig;
    size_t len;
    assert_int_equal(ta_key_generate(p, algs[i], 2048, &priv, &err), TA_OK);
    assert_int_equal(ta_key_sign(p, priv, msg, sizeof msg, &sig, &len), TA_OK);
    ERR_clear_error();
    assert_int_equal(ta_key_verify(priv, msg, sizeof msg, sig, len), TA_OK);
    assert_int_equal(ERR_peek_error(), 0);
    ERR_raise(ERR_LIB_USER, 1);
    assert_int_equal(ta_key_verify(priv, msg, sizeof msg, sig, len), TA_OK);
    assert_int_equal(ERR_peek_error(), 0);
    unsigned char *bad = apr_pmemdup(p, sig, len);
    bad[len / 2] ^= 0x01;
    assert_int_equal(ta_key_verify(priv, msg, sizeof msg, bad, len), TA_E_BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);
    memset(bad, 0xff, len);
    assert_int_not_equal(ta_key_verify(priv, msg, sizeof msg, bad, len), TA_OK);
    assert_int_equal(ERR_peek_error(), 0);
  }
}

/* ECDSA signatures are fixed-length raw r||s: sign many, always 64 bytes,
 * even when r or s has leading zero bytes (about 1 in 128 signatures). */
static void test_ecdsa_fixed_length(void **state)
{
  apr_pool_t *p = *state;
  ta_key_t *priv = load_priv(p, "test-key-ecc-p256.priv.pem", TA_ALG_NONE);
  ta_key_t *pub = load_pub(p, "test-key-ecc-p256.pub.pem", TA_ALG_NONE);
  unsigned char msg[4] = { 0 };
  for (int i = 0; i < 200; i++) {
    unsigned char *sig;
    size_t len;
    memcpy(msg, &i, sizeof(i) < sizeof(msg) ? sizeof(i) : sizeof(msg));
    assert_int_equal(ta_key_sign(p, priv, msg, sizeof(msg), &sig, &len), TA_OK);
    assert_int_equal(len, 64);
    assert_int_equal(ta_key_verify(pub, msg, sizeof(msg), sig, len), TA_OK);
  }
  /* r = 0 or s = 0 never verifies. */
  unsigned char rs[64];
  memset(rs, 0, 32);
  memset(rs + 32, 0x11, 32);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg), rs, 64), TA_E_BAD_SIGNATURE);
  /* r, s >= the group order never verifies. */
  memset(rs, 0xff, 64);
  assert_int_equal(ta_key_verify(pub, msg, sizeof(msg), rs, 64), TA_E_BAD_SIGNATURE);
}

static void expect_refused(apr_pool_t *p, const char *data, size_t len, ta_alg_t alg,
                           int private, const char *reason_part)
{
  ta_key_t *k = (ta_key_t *)1;
  const char *err = NULL;
  ta_status_t st = private ? ta_key_load_private(p, data, len, alg, &k, &err)
                           : ta_key_load_public(p, data, len, alg, &k, &err);
  assert_int_equal(st, TA_E_KEY_INVALID);
  assert_null(k);
  assert_non_null(err);
  if (reason_part != NULL && strstr(err, reason_part) == NULL)
    fail_msg("reason \"%s\" lacks \"%s\"", err, reason_part);
}

static char *pem_of(apr_pool_t *p, EVP_PKEY *pkey, int private)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *mem;
  if (private)
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
  else
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
  long n = BIO_get_mem_data(bio, &mem);
  char *out = apr_pstrmemdup(p, mem, (apr_size_t)n);
  BIO_free(bio);
  return out;
}

static void test_alg_mismatch_refused(void **state)
{
  apr_pool_t *p = *state;
  size_t n;
  char *ed = slurp(p, KEYS "test-key-ed25519.pub.pem", &n);
  expect_refused(p, ed, n, TA_ALG_ECDSA_P256_SHA256, 0, "Ed25519");
  expect_refused(p, ed, n, TA_ALG_RSA_PSS_SHA512, 0, NULL);
  expect_refused(p, ed, n, TA_ALG_HMAC_SHA256, 0, NULL);
  char *ec = slurp(p, KEYS "test-key-ecc-p256.pub.pem", &n);
  expect_refused(p, ec, n, TA_ALG_ECDSA_P384_SHA384, 0, "ecdsa-p384-sha384");
  expect_refused(p, ec, n, TA_ALG_ED25519, 0, NULL);
  char *rsa = slurp(p, KEYS "test-key-rsa.pub.pem", &n);
  expect_refused(p, rsa, n, TA_ALG_NONE, 0, "explicit algorithm");
  expect_refused(p, rsa, n, TA_ALG_ED25519, 0, NULL);
  expect_refused(p, rsa, n, TA_ALG_ECDSA_P256_SHA256, 0, NULL);
  /* The rsassaPss private key is PSS only. */
  char *pss = slurp(p, KEYS "test-key-rsa-pss.priv.pem", &n);
  expect_refused(p, pss, n, TA_ALG_RSA_V1_5_SHA256, 1, "RSA-PSS");
  ta_key_t *k;
  assert_int_equal(ta_key_load_private(p, pss, n, TA_ALG_NONE, &k, NULL), TA_OK);
  assert_int_equal(ta_key_alg(k), TA_ALG_RSA_PSS_SHA512);
  /* Its id-RSASSA-PSS SPKI (as OpenSSL writes it) is a PSS-only public key
   * whose fingerprint is the hash of that SPKI, not of the rsaEncryption one. */
  char *pss_spki = pem_of(p, (EVP_PKEY *)ta_key_evp_pkey(k), 0);
  ta_key_t *pss_pub;
  assert_int_equal(ta_key_load_public(p, pss_spki, strlen(pss_spki), TA_ALG_NONE, &pss_pub, NULL), TA_OK);
  assert_int_equal(ta_key_alg(pss_pub), TA_ALG_RSA_PSS_SHA512);
  expect_refused(p, pss_spki, strlen(pss_spki), TA_ALG_RSA_V1_5_SHA256, 0, "RSA-PSS");
  assert_string_not_equal(ta_key_fingerprint(p, pss_pub), ta_key_fingerprint(p, k));
  check_round_trip(p, k, pss_pub);
  /* A signature made for one RSA padding does not verify under the other. */
  ta_key_t *v15 = load_priv(p, "test-key-rsa.priv.pem", TA_ALG_RSA_V1_5_SHA256);
  ta_key_t *ps = load_priv(p, "test-key-rsa.priv.pem", TA_ALG_RSA_PSS_SHA512);
  unsigned char *sig;
  size_t len;
  assert_int_equal(ta_key_sign(p, v15, (const unsigned char *)"x", 1, &sig, &len), TA_OK);
  assert_int_equal(ta_key_verify(ps, (const unsigned char *)"x", 1, sig, len), TA_E_BAD_SIGNATURE);
  assert_int_equal(ta_key_sign(p, ps, (const unsigned char *)"x", 1, &sig, &len), TA_OK);
  assert_int_equal(ta_key_verify(v15, (const unsigned char *)"x", 1, sig, len), TA_E_BAD_SIGNATURE);
  /* JWK "alg" decides too, and may not contradict the caller. */
  char *jwk = public_jwk(p, "test-key-rsa.jwk.json", "RS256");
  assert_int_equal(load_jwk_str(p, jwk, TA_ALG_NONE, &k, NULL), TA_OK);
  assert_int_equal(ta_key_alg(k), TA_ALG_RSA_V1_5_SHA256);
  expect_refused(p, jwk, strlen(jwk), TA_ALG_RSA_PSS_SHA512, 0, "marked for rsa-v1_5-sha256");
  jwk = public_jwk(p, "test-key-rsa-pss.jwk.json", "PS512");
  assert_int_equal(load_jwk_str(p, jwk, TA_ALG_NONE, &k, NULL), TA_OK);
  assert_int_equal(ta_key_alg(k), TA_ALG_RSA_PSS_SHA512);
  jwk = public_jwk(p, "test-key-ed25519.jwk.json", "ES256");
  expect_refused(p, jwk, strlen(jwk), TA_ALG_NONE, 0, NULL);
  jwk = public_jwk(p, "test-key-ecc-p256.jwk.json", "HS256");
  expect_refused(p, jwk, strlen(jwk), TA_ALG_NONE, 0, "alg");
}

static void test_weak_and_unsupported_keys_refused(void **state)
{
  apr_pool_t *p = *state;
  EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  assert_non_null(rsa1024);
  char *pem = pem_of(p, rsa1024, 0);
  expect_refused(p, pem, strlen(pem), TA_ALG_RSA_PSS_SHA512, 0, "1024");
  expect_refused(p, pem, strlen(pem), TA_ALG_RSA_V1_5_SHA256, 0, "1024");
  pem = pem_of(p, rsa1024, 1);
  expect_refused(p, pem, strlen(pem), TA_ALG_RSA_V1_5_SHA256, 1, "1024");
  EVP_PKEY_free(rsa1024);

  ta_key_t *k;
  const char *err = NULL;
  assert_int_equal(ta_key_generate(p, TA_ALG_RSA_PSS_SHA512, 1024, &k, &err), TA_E_KEY_INVALID);
  assert_non_null(err);
  assert_int_equal(ta_key_generate(p, TA_ALG_HMAC_SHA256, 0, &k, &err), TA_E_KEY_INVALID);
  assert_int_equal(ta_key_generate(p, TA_ALG_NONE, 0, &k, &err), TA_E_KEY_INVALID);

  /* Other curves and key types. */
  EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
  pem = pem_of(p, k1, 0);
  expect_refused(p, pem, strlen(pem), TA_ALG_NONE, 0, "secp256k1");
  EVP_PKEY_free(k1);
  EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
  pem = pem_of(p, ed448, 0);
  expect_refused(p, pem, strlen(pem), TA_ALG_NONE, 0, "unsupported key type");
  EVP_PKEY_free(ed448);
}

static void test_jwk_forms(void **state)
{
  apr_pool_t *p = *state;
  ta_key_t *k;
  const char *err;
  /* The RFC's JWK files carry private members: refused for registration. */
  size_t n;
  char *full = slurp(p, KEYS "test-key-ed25519.jwk.json", &n);
  expect_refused(p, full, n, TA_ALG_NONE, 0, "private");
  char *ed = public_jwk(p, "test-key-ed25519.jwk.json", NULL);
  assert_int_equal(load_jwk_str(p, ed, TA_ALG_NONE, &k, &err), TA_OK);
  assert_int_equal(ta_key_alg(k), TA_ALG_ED25519);
  assert_int_equal(load_jwk_str(p, public_jwk(p, "test-key-ed25519.jwk.json", "EdDSA"), TA_ALG_NONE, &k, &err), TA_OK);
  assert_int_equal(load_jwk_str(p, public_jwk(p, "test-key-ed25519.jwk.json", "ed25519"), TA_ALG_NONE, &k, &err), TA_OK);
  assert_int_equal(load_jwk_str(p, public_jwk(p, "test-key-ecc-p256.jwk.json", "ES256"), TA_ALG_NONE, &k, &err), TA_OK);
  assert_int_equal(ta_key_alg(k), TA_ALG_ECDSA_P256_SHA256);
  /* Leading whitespace before the object is fine. */
  assert_int_equal(load_jwk_str(p, apr_pstrcat(p, " \n", ed, NULL), TA_ALG_NONE, &k, &err), TA_OK);

  const char *x = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";
  const char *ex = "qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA";
  const char *ey = "Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0";
  const char *bad[] = {
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s=\"}", x),   /* padding */
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs\"}", /* std alphabet */
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0b\"}",  /* 31.5 bytes */
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D\"}",    /* short */
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\"}", x),
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"use\":\"enc\"}", x),
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"x\":\"%s\"}", x, x),   /* duplicate */
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", x),                    /* truncated */
    apr_psprintf(p, "{\"kty\":\"oct\",\"k\":\"%s\"}", x),
    apr_psprintf(p, "{\"crv\":\"Ed25519\",\"x\":\"%s\"}", x),
    apr_psprintf(p, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":5}"),
    apr_psprintf(p, "[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]", x),
    apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}", ex),                     /* no y */
    apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", ex, ex),    /* off curve */
    apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}", ex, ey),    /* wrong size */
    apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"%s\",\"y\":\"%s\"}", ex, ey),
    "{\"kty\":\"RSA\",\"n\":\"AKsD\",\"e\":\"AQAB\"}",                                          /* leading zero, tiny */
    "{\"kty\":\"RSA\",\"e\":\"AQAB\"}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err = NULL;
    if (load_jwk_str(p, bad[i], TA_ALG_NONE, &k, &err) != TA_E_KEY_INVALID)
      fail_msg("accepted bad JWK #%zu: %s", i, bad[i]);
    assert_non_null(err);
  }
  /* A good EC JWK assembled by hand loads. */
  const char *good = apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\",\"use\":\"sig\"}", ex, ey);
  assert_int_equal(load_jwk_str(p, good, TA_ALG_NONE, &k, &err), TA_OK);
  assert_string_equal(ta_key_fingerprint(p, k), "SHA256:VfljYbeMu4Tx/GBLBxjoK9kau0bY/CWuhxs1+7+LeXQ");

  /* RSA JWK with a leading zero octet in n is not minimal. */
  json_error_t jerr;
  json_t *j = json_loads(public_jwk(p, "test-key-rsa.jwk.json", NULL), 0, &jerr);
  const char *n_b64 = json_string_value(json_object_get(j, "n"));
  unsigned char *nbytes;
  size_t nlen;
  assert_int_equal(ta_b64_decode(p, TA_B64_URL, n_b64, strlen(n_b64), &nbytes, &nlen), TA_OK);
  unsigned char *padded = apr_pcalloc(p, nlen + 1);
  memcpy(padded + 1, nbytes, nlen);
  json_object_set_new(j, "n", json_string(ta_b64_encode(p, TA_B64_URL, padded, nlen + 1)));
  char *s = json_dumps(j, JSON_COMPACT);
  expect_refused(p, s, strlen(s), TA_ALG_RSA_V1_5_SHA256, 0, "minimal");
  free(s);
  json_decref(j);
}

/* The RFC's JWK files are private keys: each loads, matches its public
 * PEM's fingerprint, and the deterministic ones re-sign the RFC's bytes. */
static void test_private_jwk(void **state)
{
  apr_pool_t *p = *state;
  const struct { const char *kid; ta_alg_t alg; const char *det_case; } keys[] = {
    { "test-key-ed25519", TA_ALG_NONE, "b26" },
    { "test-key-ecc-p256", TA_ALG_NONE, NULL },
    { "test-key-rsa", TA_ALG_RSA_V1_5_SHA256, "18-4-3-proxy-sig-rsa-v1-5-sha256-s6zzpx-deterministic" },
    { "test-key-rsa-pss", TA_ALG_RSA_PSS_SHA512, NULL },
  };
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    size_t n;
    char *jwk = slurp(p, apr_pstrcat(p, KEYS, keys[i].kid, ".jwk.json", NULL), &n);
    ta_key_t *k;
    const char *err = NULL;
    if (ta_key_load_private(p, jwk, n, keys[i].alg, &k, &err) != TA_OK)
      fail_msg("%s JWK: %s", keys[i].kid, err);
    const char *pub_file = strcmp(keys[i].kid, "test-key-rsa") == 0 ? "test-key-rsa.pub.spki.pem"
                           : apr_pstrcat(p, keys[i].kid, ".pub.pem", NULL);
    ta_key_t *pub = load_pub(p, pub_file, ta_key_alg(k));
    assert_string_equal(ta_key_fingerprint(p, k), ta_key_fingerprint(p, pub));
    check_round_trip(p, k, pub);
    if (keys[i].det_case != NULL) {
      size_t base_len, sig_len;
      char *base = slurp(p, apr_pstrcat(p, REF "cases/", keys[i].det_case, "/signature_base.txt", NULL), &base_len);
      char *sig = slurp(p, apr_pstrcat(p, REF "cases/", keys[i].det_case, "/signature.bin", NULL), &sig_len);
      unsigned char *mine;
      size_t mine_len;
      assert_int_equal(ta_key_sign(p, k, (unsigned char *)base, base_len, &mine, &mine_len), TA_OK);
      assert_int_equal(mine_len, sig_len);
      assert_memory_equal(mine, sig, sig_len);
    }
  }
  /* Refusals: public-only JWK, missing CRT member, altered scalar. */
  char *pub_only = public_jwk(p, "test-key-ed25519.jwk.json", NULL);
  expect_refused(p, pub_only, strlen(pub_only), TA_ALG_NONE, 1, "no private key");
  json_error_t jerr;
  json_t *j = json_load_file(KEYS "test-key-rsa.jwk.json", 0, &jerr);
  json_object_del(j, "qi");
  char *txt = json_dumps(j, JSON_COMPACT);
  expect_refused(p, txt, strlen(txt), TA_ALG_RSA_V1_5_SHA256, 1, "qi");
  free(txt);
  json_decref(j);
  j = json_load_file(KEYS "test-key-ecc-p256.jwk.json", 0, &jerr);
  json_object_set_new(j, "d", json_string("UpuF81l-kOxbjf7T4mNSv0r5tN67Gim7rnf6EFpcYDA"));
  txt = json_dumps(j, JSON_COMPACT);
  expect_refused(p, txt, strlen(txt), TA_ALG_NONE, 1, "inconsistent");
  free(txt);
  json_decref(j);
  j = json_load_file(KEYS "test-key-ed25519.jwk.json", 0, &jerr);
  json_object_set_new(j, "d", json_string("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9Kc"));  /* 31 bytes */
  txt = json_dumps(j, JSON_COMPACT);
  expect_refused(p, txt, strlen(txt), TA_ALG_NONE, 1, "d must be 32 bytes");
  free(txt);
  json_decref(j);
}

static void test_private_pem_forms(void **state)
{
  apr_pool_t *p = *state;
  size_t n;
  /* PKCS#8 (ed25519), SEC1 (P-256), PKCS#1 (RSA), PKCS#8 rsassaPss: each signs
   * something its public key verifies. */
  const struct { const char *kid, *pub; ta_alg_t alg; } forms[] = {
    { "test-key-ed25519", "test-key-ed25519.pub.pem", TA_ALG_NONE },
    { "test-key-ecc-p256", "test-key-ecc-p256.pub.pem", TA_ALG_NONE },
    { "test-key-rsa", "test-key-rsa.pub.pem", TA_ALG_RSA_PSS_SHA512 },
    { "test-key-rsa-pss", "test-key-rsa-pss.pub.pem", TA_ALG_RSA_PSS_SHA512 },
  };
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    ta_key_t *priv = load_priv(p, apr_pstrcat(p, forms[i].kid, ".priv.pem", NULL), forms[i].alg);
    ta_key_t *pub = load_pub(p, forms[i].pub, ta_key_alg(priv));
    check_round_trip(p, priv, pub);
    assert_non_null(ta_key_evp_pkey(priv));
  }
  /* Private material given where a public key is expected is refused. */
  char *comb = slurp(p, KEYS "test-key-ed25519.pem", &n);
  expect_refused(p, comb, n, TA_ALG_NONE, 0, "private");
  char *priv = slurp(p, KEYS "test-key-ecc-p256.priv.pem", &n);
  expect_refused(p, priv, n, TA_ALG_NONE, 0, "private");
  /* And a public key is not a private key. */
  char *pub = slurp(p, KEYS "test-key-ed25519.pub.pem", &n);
  expect_refused(p, pub, n, TA_ALG_NONE, 1, "private");
  /* Encrypted PKCS#8 is refused with a reason. */
  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  BIO *bio = BIO_new(BIO_s_mem());
  char *mem;
  assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, ed, EVP_aes_128_cbc(), "pw", 2, NULL, NULL), 1);
  long len = BIO_get_mem_data(bio, &mem);
  char *enc = apr_pstrmemdup(p, mem, (apr_size_t)len);
  BIO_free(bio);
  EVP_PKEY_free(ed);
  expect_refused(p, enc, strlen(enc), TA_ALG_NONE, 1, "encrypted");
  /* A SEC1 key whose private scalar was altered no longer matches the
   * public point it carries: refused (found by fuzz_keys). */
  char *sec1 = slurp(p, KEYS "test-key-ecc-p256.priv.pem", &n);
  char *w43 = strstr(sec1, "W43+");
  assert_non_null(w43);
  w43[2] = '4';
  expect_refused(p, sec1, n, TA_ALG_NONE, 1, "inconsistent");
  /* Two private keys in one file are ambiguous. */
  char *two = apr_pstrcat(p, priv, priv, NULL);
  expect_refused(p, two, strlen(two), TA_ALG_NONE, 1, "exactly one");
}

static void test_garbage_and_bounds(void **state)
{
  apr_pool_t *p = *state;
  ta_key_t *k;
  const char *err;
  const char *junk[] = {
    "", "x", "{", "{}", "null", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n",
    "-----BEGIN CERTIFICATE-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END CERTIFICATE-----\n",
    /* two keys in one input (parenthesised: the concatenation is meant) */
    ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"
     "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"),
  };
  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
    err = NULL;
    if (ta_key_load_public(p, junk[i], strlen(junk[i]), TA_ALG_NONE, &k, &err) != TA_E_KEY_INVALID)
      fail_msg("accepted junk #%zu", i);
    assert_non_null(err);
    assert_int_equal(ta_key_load_private(p, junk[i], strlen(junk[i]), TA_ALG_NONE, &k, &err), TA_E_KEY_INVALID);
  }
  size_t n;
  char *pem = slurp(p, KEYS "test-key-ed25519.pub.pem", &n);
  char *big = apr_palloc(p, TA_KEY_MAX_INPUT + 1);
  memset(big, '\n', TA_KEY_MAX_INPUT + 1);
  memcpy(big, pem, n);
  expect_refused(p, big, TA_KEY_MAX_INPUT + 1, TA_ALG_NONE, 0, "too large");
  assert_int_equal(ta_key_load_public(p, big, TA_KEY_MAX_INPUT, TA_ALG_NONE, &k, NULL), TA_OK);
  assert_int_equal(ta_key_hmac(p, (const unsigned char *)"", 0, &k), TA_E_KEY_INVALID);
}

/* Pool cleanup frees the EVP objects: many loads in a subpool leave
 * nothing behind (checked by the sanitizer build's leak detector). */
static void test_pool_cleanup(void **state)
{
  apr_pool_t *sub;
  size_t n;
  char *pem = slurp(*state, KEYS "test-key-rsa-pss.priv.pem", &n);
  for (int i = 0; i < 20; i++) {
    ta_key_t *k;
    assert_int_equal(apr_pool_create(&sub, *state), APR_SUCCESS);
    assert_int_equal(ta_key_load_private(sub, pem, n, TA_ALG_NONE, &k, NULL), TA_OK);
    assert_non_null(ta_key_fingerprint(sub, k));
    apr_pool_destroy(sub);
  }
}

/* rsa-pss-sha512 means salt 64 exactly: a PSS signature with another
 * salt length (made here with OpenSSL directly) is refused. */
static void test_pss_salt_length_exact(void **state)
{
  apr_pool_t *p = *state;
  ta_key_t *priv = load_priv(p, "test-key-rsa-pss.priv.pem", TA_ALG_NONE);
  ta_key_t *pub = load_pub(p, "test-key-rsa-pss.pub.pem", TA_ALG_RSA_PSS_SHA512);
  static const unsigned char msg[] = "salt";
  const int salts[] = { 64, 32, 0, 63, 65 };
  for (size_t i = 0; i < sizeof(salts) / sizeof(salts[0]); i++) {
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char sig[256];
    size_t len = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit_ex(mctx, &pctx, "SHA512", NULL, NULL, ta_key_evp_pkey(priv), NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA512", NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salts[i]), 1);
    assert_int_equal(EVP_DigestSign(mctx, sig, &len, msg, sizeof(msg) - 1), 1);
    EVP_MD_CTX_free(mctx);
    assert_int_equal(len, 256);
    assert_int_equal(ta_key_verify(pub, msg, sizeof(msg) - 1, sig, len),
                     salts[i] == 64 ? TA_OK : TA_E_BAD_SIGNATURE);
  }
}

typedef struct {
  const ta_key_t *pub;
  const unsigned char *sig;
  size_t sig_len;
  int failures;
} verify_job_t;

static void *APR_THREAD_FUNC verify_worker(apr_thread_t *t, void *data)
{
  verify_job_t *job = data;
  static const unsigned char msg[] = "shared key, many threads";
  for (int i = 0; i < 100; i++) {
    if (ta_key_verify(job->pub, msg, sizeof(msg) - 1, job->sig, job->sig_len) != TA_OK)
      job->failures++;
    if (ta_key_verify(job->pub, msg, sizeof(msg) - 2, job->sig, job->sig_len) != TA_E_BAD_SIGNATURE)
      job->failures++;
  }
  apr_thread_exit(t, APR_SUCCESS);
  return NULL;
}

/* One loaded key verifies from several threads at once. */
static void test_concurrent_verify(void **state)
{
  apr_pool_t *p = *state;
  static const unsigned char msg[] = "shared key, many threads";
  const char *files[] = { "test-key-ecc-p256", "test-key-ed25519", "test-key-rsa-pss" };
  for (size_t f = 0; f < 3; f++) {
    ta_key_t *priv = load_priv(p, apr_pstrcat(p, files[f], ".priv.pem", NULL), TA_ALG_NONE);
    ta_key_t *pub = load_pub(p, apr_pstrcat(p, files[f], ".pub.pem", NULL), ta_key_alg(priv));
    unsigned char *sig;
    size_t len;
    assert_int_equal(ta_key_sign(p, priv, msg, sizeof(msg) - 1, &sig, &len), TA_OK);
    apr_thread_t *threads[4];
    verify_job_t jobs[4];
    for (int i = 0; i < 4; i++) {
      jobs[i] = (verify_job_t){ pub, sig, len, 0 };
      assert_int_equal(apr_thread_create(&threads[i], NULL, verify_worker, &jobs[i], p), APR_SUCCESS);
    }
    for (int i = 0; i < 4; i++) {
      apr_status_t rv;
      apr_thread_join(&rv, threads[i]);
      assert_int_equal(jobs[i].failures, 0);
    }
  }
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_alg_names, setup, teardown),
    cmocka_unit_test_setup_teardown(test_load_every_reference_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_der_spki, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rfc9421_signatures, setup, teardown),
    cmocka_unit_test_setup_teardown(test_generate_sign_verify_every_alg, setup, teardown),
    cmocka_unit_test_setup_teardown(test_verify_leaves_no_openssl_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ecdsa_fixed_length, setup, teardown),
    cmocka_unit_test_setup_teardown(test_alg_mismatch_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_weak_and_unsupported_keys_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_jwk_forms, setup, teardown),
    cmocka_unit_test_setup_teardown(test_private_pem_forms, setup, teardown),
    cmocka_unit_test_setup_teardown(test_private_jwk, setup, teardown),
    cmocka_unit_test_setup_teardown(test_garbage_and_bounds, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pool_cleanup, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pss_salt_length_exact, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_verify, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_terminate();
  return rc;
}

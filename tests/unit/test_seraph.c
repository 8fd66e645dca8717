/* Seraph legacy protocol: the v2 vector produced by Atlassian's Java
 * library (shared/reference/seraph/v2-vector), every error path of the
 * codec and verifier, signer round trips, the legacy error header and the
 * certificate document. */
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
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ta_b64.h"
#include "ta_rc4.h"
#include "ta_seraph.h"

#define VEC TA_SHARED_DIR "/reference/seraph/v2-vector/"
#define VEC_URL "http://jira.example.com:8080/rest/api/2/issue/ABC-1?expand=names&x=%20y"
#define VEC_CREATED_MS 1795563728057LL
/* TV-1 Magic header and the A-T1 SECRET_KEY constant, from PROTOCOL-NOTES.md section 16. */
#define TV1_MAGIC "fsmX64ZCz6swbr1jf2sarttjIlTdnvLtLTaCSYgQqXhAmPq4J3IBwHR1I5GghZmfDRbpvNXNS2chXswBDtf8am+LV+u2EqcaPr6VvaUZORBtcMtPEuY6a2SJtlOE53LXYhqdQD60Q3l2uElfI0GaZIUN1FbB7rx6h0KB4EWejZc="
#define VEC_CERT "RKqlFM4jZFXWthJAPo43zUNrd7oo1Lx/OcZm6bJo"
#define VEC_KEY "TmdUVRoaETHVnPLkI/75GdnfErK20HWPE6Nb/LtO0P/Y2MlbuD0Y8SgUc+GZ8tWq1/zFkThHGumArkx1OeBvMfl0Ei6Hzj8v925/0BxhvUU+1hnJBygnlPsrUksOLaWaEuab3cwovI8rwHjonpl6rWIR+fTdL2c7D2v5NgkwXc8="
#define VEC_SIG "pcs68uuD9v1i7BCJDLg8sOk2WSrerzA4Xc/Vk/1RupZ+AtGRSQbzvQJyoXW4Vp5QW7r/Byh3RciuRByLHdXhX+1jwiH1iAKny4ZhWsEO2KXu7NjZHyi/8xMwdi3uVghJ7eRb3TC/55PhTbDpe3RPpC6e9nAdRlDfJN5TdJH3USU="

typedef struct {
  apr_pool_t *pool;
  EVP_PKEY *vec_pub, *vec_priv;   /* Atlassian's 1024-bit test pair */
  ta_key_t *rsa, *rsa2;           /* generated 2048-bit pairs */
  ta_key_t *rsa_pub;              /* public half of rsa */
} fixture_t;

static fixture_t F;

static unsigned char *read_file(apr_pool_t *p, const char *name, size_t *len)
{
  const char *path = apr_pstrcat(p, VEC, name, NULL);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  unsigned char *buf = apr_palloc(p, 65536);
  *len = fread(buf, 1, 65536, f);
  fclose(f);
  buf[*len < 65536 ? *len : 65535] = 0;
  return buf;
}

static EVP_PKEY *load_der(const char *name, int priv)
{
  size_t len;
  const unsigned char *der = read_file(F.pool, name, &len), *cur = der;
  EVP_PKEY *k = priv ? d2i_AutoPrivateKey(NULL, &cur, (long)len) : d2i_PUBKEY(NULL, &cur, (long)len);
  assert_non_null(k);
  return k;
}

static int setup(void **state)
{
  (void)state;
  const char *err = NULL;
  apr_initialize();
  apr_pool_create(&F.pool, NULL);
  F.vec_pub = load_der("pub.der", 0);
  F.vec_priv = load_der("priv.der", 1);
  if (ta_key_generate(F.pool, TA_ALG_RSA_V1_5_SHA256, 2048, &F.rsa, &err) != TA_OK
      || ta_key_generate(F.pool, TA_ALG_RSA_V1_5_SHA256, 2048, &F.rsa2, &err) != TA_OK)
    fail_msg("keygen: %s", err ? err : "?");
  const char *pem = ta_key_public_pem(F.pool, F.rsa);
  assert_non_null(pem);
  if (ta_key_load_public(F.pool, pem, strlen(pem), TA_ALG_RSA_V1_5_SHA256, &F.rsa_pub, &err) != TA_OK)
    fail_msg("load public: %s", err ? err : "?");
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  EVP_PKEY_free(F.vec_pub);
  EVP_PKEY_free(F.vec_priv);
  apr_pool_destroy(F.pool);
  apr_terminate();
  return 0;
}

static ta_msg_t *url_msg(apr_pool_t *p, const char *scheme, const char *authority,
                         const char *path, const char *query)
{
  ta_msg_t *m = ta_msg_make(p);
  m->method = "GET";
  m->scheme = scheme;
  m->authority = authority;
  m->path = path;
  m->query = query;
  return m;
}

static ta_msg_t *vec_msg_without(apr_pool_t *p, const char *skip)
{
  ta_msg_t *m = url_msg(p, "http", "jira.example.com:8080", "/rest/api/2/issue/ABC-1",
                        "expand=names&x=%20y");
  const char *names[] = {TA_SERAPH_H_ID, TA_SERAPH_H_CERT, TA_SERAPH_H_KEY,
                         TA_SERAPH_H_VERSION, TA_SERAPH_H_MAGIC, TA_SERAPH_H_SIGNATURE};
  const char *values[] = {"myAppId", VEC_CERT, VEC_KEY, "2", TV1_MAGIC, VEC_SIG};
  for (int i = 0; i < 6; i++)
    if (!skip || strcmp(skip, names[i]) != 0)
      ta_msg_add_field(m, names[i], values[i]);
  return m;
}

static ta_msg_t *vec_msg(apr_pool_t *p)
{
  return vec_msg_without(p, NULL);
}

/* Replace (or add) one header of a message. */
static void set_field(ta_msg_t *m, const char *name, const char *value)
{
  ta_field_t *f = (ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    if (strcasecmp(f[i].name, name) == 0) {
      f[i].value = value;
      return;
    }
  ta_msg_add_field(m, name, value);
}

static ta_seraph_opts_t no_time_opts(void)
{
  ta_seraph_opts_t o;
  ta_seraph_opts_init(&o);
  o.check_time = 0;
  return o;
}

static apr_pool_t *subpool(void)
{
  apr_pool_t *p;
  apr_pool_create(&p, F.pool);
  return p;
}

/* ---- the Java-produced vector ------------------------------------------- */

static void test_vector_files_match_notes(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  size_t n;
  const unsigned char *b;
  b = read_file(p, "c.bin", &n);
  assert_string_equal(ta_b64_encode(p, TA_B64_STD, b, n), VEC_CERT);
  b = read_file(p, "k.bin", &n);
  assert_string_equal(ta_b64_encode(p, TA_B64_STD, b, n), VEC_KEY);
  b = read_file(p, "m.bin", &n);
  assert_string_equal(ta_b64_encode(p, TA_B64_STD, b, n), TV1_MAGIC);
  b = read_file(p, "s.bin", &n);
  assert_string_equal(ta_b64_encode(p, TA_B64_STD, b, n), VEC_SIG);
  apr_pool_destroy(p);
}

static void test_vector_unwrap(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  size_t n, hn, klen;
  unsigned char *out;
  const unsigned char *k = read_file(p, "k.bin", &n);
  const char *hex = (const char *)read_file(p, "key.hex", &hn);
  assert_int_equal(ta_seraph_rsa_unwrap(p, F.vec_pub, k, n, &out, &klen), TA_OK);
  assert_int_equal(klen, 16);
  char got[33];
  for (int i = 0; i < 16; i++)
    snprintf(got + 2 * i, 3, "%02x", out[i]);
  assert_memory_equal(got, hex, 32);
  assert_string_equal(got, "1e6e9a01a808df24fcf8c09872f66546");

  const unsigned char *m = read_file(p, "m.bin", &n);
  assert_int_equal(ta_seraph_rsa_unwrap(p, F.vec_pub, m, n, &out, &klen), TA_OK);
  assert_int_equal(klen, strlen(TA_SERAPH_MAGIC));
  assert_memory_equal(out, TA_SERAPH_MAGIC, klen);

  /* A-T1's SECRET_KEY: 112 zero bytes then the key; zeros are stripped. */
  const unsigned char *sk = read_file(p, "seckey.bin", &n);
  assert_int_equal(ta_seraph_rsa_unwrap(p, F.vec_pub, sk, n, &out, &klen), TA_OK);
  assert_int_equal(klen, 16);
  static const unsigned char want[16] = {0xf3, 0x2c, 0xfc, 0x9a, 0xe6, 0x9f, 0x8b, 0x62,
                                         0xb3, 0xa2, 0xd3, 0x9e, 0x84, 0x20, 0xe7, 0xe8};
  assert_memory_equal(out, want, 16);
  apr_pool_destroy(p);
}

static void test_vector_magic_is_deterministic(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_headers_t h;
  const char *err = NULL;
  assert_int_equal(ta_seraph_sign_pkey(p, F.vec_priv, "myAppId", "fred", VEC_URL, 2,
                                       apr_time_from_msec(VEC_CREATED_MS), &h, &err), TA_OK);
  assert_string_equal(h.magic, TV1_MAGIC);
  assert_string_equal(h.version, "2");
  /* Same timestamp and URL: PKCS#1 v1.5 is deterministic, so the signature
   * is the Java one byte for byte. */
  assert_string_equal(h.signature, VEC_SIG);
  assert_string_not_equal(h.key, VEC_KEY);  /* fresh RC4 key */
  apr_pool_destroy(p);
}

static void test_vector_verifies(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_seraph_claim_t c;
  const char *detail = NULL;
  ta_msg_t *m = vec_msg(p);
  assert_true(ta_seraph_present(m));
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, apr_time_now(), &c, &detail), TA_OK);
  assert_null(detail);
  assert_string_equal(c.user, "fred");
  assert_string_equal(c.app_id, "myAppId");
  assert_int_equal(c.version, 2);
  assert_true(c.created_ms == VEC_CREATED_MS);
  assert_string_equal(c.url, VEC_URL);
  size_t n;
  const char *sbs = (const char *)read_file(p, "sbs.txt", &n);
  assert_string_equal(apr_pstrmemdup(p, sbs, n), apr_psprintf(p, "%" APR_INT64_T_FMT "\n%s", (apr_int64_t)VEC_CREATED_MS, VEC_URL));
  assert_non_null(c.replay_key);
  assert_true(strncmp(c.replay_key, "seraph:myAppId:", 15) == 0);
  assert_int_equal(strlen(c.replay_key), 15 + 64);
  apr_pool_destroy(p);
}

static void test_vector_time_edges(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o;
  ta_seraph_claim_t c;
  ta_seraph_opts_init(&o);
  apr_time_t created = apr_time_from_msec(VEC_CREATED_MS);
  apr_interval_time_t timeout = apr_time_from_sec(10);
  ta_msg_t *m = vec_msg(p);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, timeout, m, &o, created + timeout, &c, NULL), TA_OK);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, timeout, m, &o, created + timeout + 1000, &c, NULL),
                   TA_E_CLOCK_PAST);
  assert_true(c.replay_key == NULL);
  /* Legacy clients stamp now + 900 s. */
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, timeout, m, &o, created - apr_time_from_sec(900), &c, NULL),
                   TA_OK);
  assert_int_equal(c.replay_expires, created + timeout);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, timeout, m, &o,
                                         created - apr_time_from_sec(900) - 1000, &c, NULL),
                   TA_E_CLOCK_FUTURE);
  o.future_skew_sec = 30;
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, timeout, m, &o, created - apr_time_from_sec(31), &c, NULL),
                   TA_E_CLOCK_FUTURE);
  /* timeout 0 disables the age check, unless the location caps it. */
  ta_seraph_opts_init(&o);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, apr_time_now(), &c, NULL), TA_OK);
  o.past_limit_sec = 60;
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, created + apr_time_from_sec(61), &c, NULL),
                   TA_E_CLOCK_PAST);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, created + apr_time_from_sec(59), &c, NULL),
                   TA_OK);
  apr_pool_destroy(p);
}

static void test_vector_base_url(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_seraph_claim_t c;
  ta_msg_t *m = vec_msg(p);
  /* Behind a proxy the server sees another scheme/authority... */
  m->scheme = "https";
  m->authority = "backend.internal";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  assert_string_equal(c.url, "https://backend.internal/rest/api/2/issue/ABC-1?expand=names&x=%20y");
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_URL, &c, NULL, NULL),
                      "BAD_SIGNATURE;\tBad signature for URL: {0};\t"
                      "[\"https://backend.internal/rest/api/2/issue/ABC-1?expand=names&x=%20y\"]");
  /* ... which the configured external base URL fixes (trailing '/' ignored). */
  o.base_url = "http://jira.example.com:8080/";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_OK);
  /* A proxy that strips a prefix: the base URL carries it. */
  m->path = "/issue/ABC-1";
  o.base_url = "http://jira.example.com:8080/rest/api/2";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_OK);
  /* Byte-exact: default port spelled out, other host, other query. */
  o.base_url = "http://jira.example.com";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  m = vec_msg(p);
  m->query = "expand=names&x=+y";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  /* A malformed base URL never verifies. */
  o.base_url = "jira.example.com:8080";
  m = vec_msg(p);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  assert_null(ta_seraph_expected_url(p, m, "http://x/?q"));
  assert_null(ta_seraph_expected_url(p, m, "http:///path"));
  /* the scheme is case-insensitive in configuration, lower case when compared */
  o.base_url = "HTTP://jira.example.com:8080";
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_OK);
  const char *why = NULL;
  const char *bad_bases[] = {"", "ftp://x", "http://", "http://:80", "http://u@host/", "http://h/a b",
                             "http://h/#f", "http://h\xc3\xa9/", "https://h?x"};
  for (size_t i = 0; i < sizeof(bad_bases) / sizeof(bad_bases[0]); i++) {
    if (ta_seraph_base_url_valid(bad_bases[i], &why))
      fail_msg("base URL '%s' accepted", bad_bases[i]);
    assert_non_null(why);
  }
  assert_true(ta_seraph_base_url_valid("https://jira.example.com:8443/jira/", NULL));
  assert_true(ta_seraph_base_url_valid("http://h/mail@x", NULL));
  apr_pool_destroy(p);
}

static void test_vector_tampered_signature(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_seraph_claim_t c;
  size_t n;
  unsigned char *s = read_file(p, "s.bin", &n);
  s[n / 2] ^= 0x01;
  ta_msg_t *m = vec_msg(p);
  set_field(m, TA_SERAPH_H_SIGNATURE, ta_b64_encode(p, TA_B64_STD, s, n));
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  /* A valid signature of another timestamp. */
  ta_seraph_headers_t h;
  assert_int_equal(ta_seraph_sign_pkey(p, F.vec_priv, "myAppId", "fred", VEC_URL, 2,
                                       apr_time_from_msec(VEC_CREATED_MS + 1), &h, NULL), TA_OK);
  m = vec_msg(p);
  set_field(m, TA_SERAPH_H_SIGNATURE, h.signature);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_URL);
  apr_pool_destroy(p);
}

static void test_vector_wrong_key(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_seraph_claim_t c;
  ta_msg_t *m = vec_msg(p);
  EVP_PKEY *other = ta_key_evp_pkey(F.rsa_pub);
  assert_int_equal(ta_seraph_verify_pkey(p, other, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_MAGIC);
  assert_string_equal(ta_seraph_legacy_error(TA_E_SERAPH_MAGIC), "BAD_MAGIC");
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_MAGIC, &c, NULL, NULL),
                      "BAD_MAGIC;\tUnable to decrypt certificate {0} for application {1};\t"
                      "[\"public key\",\"myAppId\"]");
  apr_pool_destroy(p);
}

static void test_bad_magic_header(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_seraph_claim_t c;
  ta_msg_t *m = vec_msg(p);
  /* The wrapped RC4 key in place of the magic decrypts, but not to the magic. */
  set_field(m, TA_SERAPH_H_MAGIC, VEC_KEY);
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_MAGIC);
  /* A value numerically above the modulus. */
  unsigned char big[128];
  memset(big, 0xff, sizeof(big));
  set_field(m, TA_SERAPH_H_MAGIC, ta_b64_encode(p, TA_B64_STD, big, sizeof(big)));
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_MAGIC);
  /* Longer than the modulus. */
  unsigned char longer[129] = {1};
  set_field(m, TA_SERAPH_H_MAGIC, ta_b64_encode(p, TA_B64_STD, longer, sizeof(longer)));
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_MAGIC);
  apr_pool_destroy(p);
}

/* Re-encrypt a certificate with the RC4 key recovered from a Key header
 * using only the public key: what any holder of the public key can do. */
static const char *reencrypt(apr_pool_t *p, const char *key_b64, const char *plain)
{
  unsigned char *wrapped, *k;
  size_t wlen, klen, n = strlen(plain);
  assert_int_equal(ta_b64_decode(p, TA_B64_STD, key_b64, strlen(key_b64), &wrapped, &wlen), TA_OK);
  assert_int_equal(ta_seraph_rsa_unwrap(p, F.vec_pub, wrapped, wlen, &k, &klen), TA_OK);
  unsigned char *enc = apr_palloc(p, n + 1);
  ta_rc4_t st;
  ta_rc4_init(&st, k, klen);
  ta_rc4_crypt(&st, (const unsigned char *)plain, enc, n);
  return ta_b64_encode(p, TA_B64_STD, enc, n);
}

static ta_status_t verify_vec_with_cert(apr_pool_t *p, const char *plain, ta_seraph_claim_t *c)
{
  ta_seraph_opts_t o = no_time_opts();
  ta_msg_t *m = vec_msg(p);
  set_field(m, TA_SERAPH_H_CERT, reencrypt(p, VEC_KEY, plain));
  return ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, c, NULL);
}

static void test_certificate_contents(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_claim_t c;
  /* Sanity: re-encrypting the original plaintext reproduces the vector. */
  assert_string_equal(reencrypt(p, VEC_KEY, "1795563728057\nfred\n-1159983122"), VEC_CERT);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\r\nfred\r-1159983122\nextra", &c), TA_OK);
  /* bad magic line in the certificate: "secret key" */
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfred\n-1159983123", &c), TA_E_SERAPH_CERT);
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_CERT, &c, NULL, NULL),
                      "BAD_MAGIC;\tUnable to decrypt certificate {0} for application {1};\t"
                      "[\"secret key\",\"myAppId\"]");
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfred", &c), TA_E_SERAPH_CERT);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057", &c), TA_E_SERAPH_CERT);
  /* timestamps must be canonical: the signature covers Long.toString */
  assert_int_equal(verify_vec_with_cert(p, "01795563728057\nfred\n-1159983122", &c), TA_E_SERAPH_CERT);
  assert_int_equal(verify_vec_with_cert(p, "+1795563728057\nfred\n-1159983122", &c), TA_E_SERAPH_CERT);
  assert_int_equal(verify_vec_with_cert(p, "99999999999999999999\nfred\n-1159983122", &c), TA_E_SERAPH_CERT);
  assert_int_equal(verify_vec_with_cert(p, "\nfred\n-1159983122", &c), TA_E_SERAPH_CERT);
  /* user: non-empty, UTF-8, no controls */
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\n\n-1159983122", &c), TA_E_USER_INVALID);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfr\x01" "ed\n-1159983122", &c), TA_E_USER_INVALID);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfr\xc3(d\n-1159983122", &c), TA_E_USER_INVALID);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfr\xc2\x85" "d\n-1159983122", &c), TA_E_USER_INVALID);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nj\xc3\xb6rg\n-1159983122", &c), TA_OK);
  assert_string_equal(c.user, "j\xc3\xb6rg");
  apr_pool_destroy(p);
}

/* The protocol's own weakness, pinned down: a captured v2 request can be
 * re-encrypted for another user and still verifies, because the signature
 * covers only (timestamp, URL). The replay key is the same, so recording it
 * stops the substituted request once the original was seen. */
static void test_v2_user_substitution_shares_replay_key(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_claim_t orig, forged;
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nfred\n-1159983122", &orig), TA_OK);
  assert_int_equal(verify_vec_with_cert(p, "1795563728057\nadmin\n-1159983122", &forged), TA_OK);
  assert_string_equal(forged.user, "admin");
  assert_string_equal(orig.replay_key, forged.replay_key);
  apr_pool_destroy(p);
}

/* ---- header parsing ------------------------------------------------------ */

static void expect_status(ta_msg_t *m, const ta_seraph_opts_t *o, ta_status_t want)
{
  ta_seraph_claim_t c;
  const char *detail = NULL;
  ta_status_t st = ta_seraph_verify_pkey(F.pool, F.vec_pub, 0, m, o, 0, &c, &detail);
  if (st != want)
    fail_msg("got %s (%s), want %s", ta_error_token(st), detail ? detail : "-", ta_error_token(want));
}

static void test_missing_headers(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_msg_t *m = vec_msg_without(p, TA_SERAPH_H_CERT);
  assert_false(ta_seraph_present(m));
  expect_status(m, &o, TA_E_NO_CREDENTIALS);
  m = vec_msg(p);
  set_field(m, TA_SERAPH_H_CERT, "  ");
  assert_false(ta_seraph_present(m));
  expect_status(m, &o, TA_E_NO_CREDENTIALS);
  expect_status(vec_msg_without(p, TA_SERAPH_H_ID), &o, TA_E_SERAPH_APP_ID_MISSING);
  expect_status(vec_msg_without(p, TA_SERAPH_H_KEY), &o, TA_E_SERAPH_KEY_MISSING);
  expect_status(vec_msg_without(p, TA_SERAPH_H_MAGIC), &o, TA_E_SERAPH_MAGIC_MISSING);
  expect_status(vec_msg_without(p, TA_SERAPH_H_SIGNATURE), &o, TA_E_SERAPH_SIGNATURE_MISSING);
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_SIGNATURE_MISSING, NULL, NULL, NULL),
                      "BAD_SIGNATURE;\tMissing signature in a v2 request;\t[]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_APP_ID_MISSING, NULL, NULL, NULL),
                      "APP_ID_NOT_FOUND;\tApplication ID not found in request;\t[]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_KEY_MISSING, NULL, NULL, NULL),
                      "SECRET_KEY_NOT_FOUND;\tSecret Key not found in request;\t[]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_MAGIC_MISSING, NULL, NULL, NULL),
                      "MAGIC_NUMBER_NOT_FOUND;\tMagic Number not found in request;\t[]");
  /* header names are case-insensitive */
  m = url_msg(p, "http", "jira.example.com:8080", "/rest/api/2/issue/ABC-1", "expand=names&x=%20y");
  ta_msg_add_field(m, "x-seraph-trusted-app-id", "myAppId");
  ta_msg_add_field(m, "X-SERAPH-TRUSTED-APP-CERT", VEC_CERT);
  ta_msg_add_field(m, "x-seraph-trusted-app-key", VEC_KEY);
  ta_msg_add_field(m, "x-seraph-trusted-app-version", "2");
  ta_msg_add_field(m, "x-seraph-trusted-app-magic", TV1_MAGIC);
  ta_msg_add_field(m, "x-seraph-trusted-app-signature", VEC_SIG);
  expect_status(m, &o, TA_OK);
  apr_pool_destroy(p);
}

static void test_protocol_versions(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  const char *bad[] = {"abc", "-2", "+2", "2.0", "99999999", "1 2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ta_msg_t *m = vec_msg(p);
    set_field(m, TA_SERAPH_H_VERSION, bad[i]);
    expect_status(m, &o, TA_E_SERAPH_PROTOCOL);
  }
  ta_msg_t *m = vec_msg(p);
  set_field(m, TA_SERAPH_H_VERSION, "4");
  expect_status(m, &o, TA_E_SERAPH_PROTOCOL);
  ta_seraph_claim_t c;
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL), TA_E_SERAPH_PROTOCOL);
  assert_string_equal(ta_seraph_error_header(p, TA_E_SERAPH_PROTOCOL, &c, NULL, NULL),
                      "BAD_PROTOCOL_VERSION;\tUnsupported protocol version: {0}. required {1};\t[\"4\",\"2\"]");
  apr_pool_destroy(p);
}

static ta_msg_t *signed_vec_msg(apr_pool_t *p, int version, const char *user)
{
  ta_seraph_headers_t h;
  const char *err = NULL;
  if (ta_seraph_sign_pkey(p, F.vec_priv, "myAppId", user, VEC_URL, version,
                          apr_time_from_msec(VEC_CREATED_MS), &h, &err) != TA_OK)
    fail_msg("sign v%d: %s", version, err);
  ta_msg_t *m = url_msg(p, "http", "jira.example.com:8080", "/rest/api/2/issue/ABC-1",
                        "expand=names&x=%20y");
  ta_seraph_headers_add(m, &h);
  return m;
}

static void test_insecure_versions_refused_by_default(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_msg_t *v0 = signed_vec_msg(p, 0, "fred"), *v1 = signed_vec_msg(p, 1, "fred");
  assert_int_equal(ta_msg_field_count(v0, TA_SERAPH_H_VERSION), 0);
  assert_int_equal(ta_msg_field_count(v0, TA_SERAPH_H_MAGIC), 0);
  assert_int_equal(ta_msg_field_count(v1, TA_SERAPH_H_SIGNATURE), 0);
  expect_status(v0, &o, TA_E_SERAPH_PROTOCOL);
  expect_status(v1, &o, TA_E_SERAPH_PROTOCOL);
  o.allow_insecure_versions = 1;
  expect_status(v0, &o, TA_OK);
  expect_status(v1, &o, TA_OK);
  ta_seraph_claim_t c;
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, v1, &o, 0, &c, NULL), TA_OK);
  assert_null(c.replay_key);  /* nothing is signed, nothing to record */
  /* v1 is not bound to the URL: any URL accepts it. That is why it is off. */
  v1->path = "/secure/admin";
  expect_status(v1, &o, TA_OK);
  /* but a signature, if present, is checked (as v2) */
  set_field(v1, TA_SERAPH_H_SIGNATURE, VEC_SIG);
  expect_status(v1, &o, TA_E_SERAPH_URL);
  apr_pool_destroy(p);
}

static void test_version3(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  ta_msg_t *m = signed_vec_msg(p, 3, "fred");
  assert_int_equal(ta_msg_field_count(m, TA_SERAPH_H_KEY), 0);
  expect_status(m, &o, TA_OK);
  /* v3 signs the user too: substitution fails */
  const char *plain = apr_psprintf(p, "%" APR_INT64_T_FMT "\nadmin\n" TA_SERAPH_MAGIC, (apr_int64_t)VEC_CREATED_MS);
  set_field(m, TA_SERAPH_H_CERT, ta_b64_encode(p, TA_B64_STD, (const unsigned char *)plain, strlen(plain)));
  expect_status(m, &o, TA_E_SERAPH_URL);
  /* the largest timestamp the certificate grammar admits: refused as future, no overflow */
  ta_seraph_claim_t c;
  ta_seraph_opts_t timed;
  ta_seraph_opts_init(&timed);
  m = signed_vec_msg(p, 3, "fred");
  plain = "9223372036854775807\nfred\n" TA_SERAPH_MAGIC;
  set_field(m, TA_SERAPH_H_CERT, ta_b64_encode(p, TA_B64_STD, (const unsigned char *)plain, strlen(plain)));
  assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, apr_time_from_sec(86400), m, &timed, apr_time_now(), &c,
                                         NULL), TA_E_CLOCK_FUTURE);
  assert_true(c.created > apr_time_now());
  o.allow_version3 = 0;
  expect_status(signed_vec_msg(p, 3, "fred"), &o, TA_E_SERAPH_PROTOCOL);
  apr_pool_destroy(p);
}

static void test_garbage_and_oversize(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  ta_seraph_opts_t o = no_time_opts();
  struct { const char *name, *value; } cases[] = {
    {TA_SERAPH_H_CERT, "!!!!"},
    {TA_SERAPH_H_CERT, "RKqlFM4jZFXWthJAPo43zUNrd7oo1Lx/OcZm6bJ"},   /* bad length */
    {TA_SERAPH_H_CERT, "RKqlFM4jZFXWthJA Po43zUNrd7oo1Lx/OcZm6bJo"}, /* inner space */
    {TA_SERAPH_H_KEY, "TmdU-VRo="},
    {TA_SERAPH_H_MAGIC, "fs=X"},
    {TA_SERAPH_H_SIGNATURE, "pcs68uuD9v1i7BCJ==="},
    {TA_SERAPH_H_SIGNATURE, "QR=="},                                 /* non-canonical bits */
    {TA_SERAPH_H_ID, "my\x01" "AppId"},
    {TA_SERAPH_H_VERSION, "000000002"},                              /* longer than 8 */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ta_msg_t *m = vec_msg(p);
    set_field(m, cases[i].name, cases[i].value);
    ta_seraph_claim_t c;
    ta_status_t st = ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, NULL);
    if (st != TA_E_SERAPH_HEADER_INVALID)
      fail_msg("case %zu (%s): %s", i, cases[i].name, ta_error_token(st));
  }
  /* oversize values */
  const char *names[] = {TA_SERAPH_H_ID, TA_SERAPH_H_CERT, TA_SERAPH_H_KEY, TA_SERAPH_H_MAGIC,
                         TA_SERAPH_H_SIGNATURE};
  size_t limits[] = {TA_SERAPH_MAX_APP_ID, TA_SERAPH_MAX_CERT_B64, TA_SERAPH_MAX_RSA_B64,
                     TA_SERAPH_MAX_RSA_B64, TA_SERAPH_MAX_RSA_B64};
  for (size_t i = 0; i < 5; i++) {
    char *big = apr_palloc(p, limits[i] + 5);
    memset(big, 'A', limits[i] + 4);
    big[limits[i] + 4] = 0;
    ta_msg_t *m = vec_msg(p);
    set_field(m, names[i], big);
    expect_status(m, &o, TA_E_SERAPH_HEADER_INVALID);
    /* the detail names the bound (APR's formatter has no %zu) */
    ta_seraph_claim_t c;
    const char *detail = NULL;
    assert_int_equal(ta_seraph_verify_pkey(p, F.vec_pub, 0, m, &o, 0, &c, &detail), TA_E_SERAPH_HEADER_INVALID);
    assert_string_equal(detail, apr_psprintf(p, "%s longer than %lu bytes", names[i], (unsigned long)limits[i]));
  }
  /* repeated header */
  ta_msg_t *m = vec_msg(p);
  ta_msg_add_field(m, TA_SERAPH_H_SIGNATURE, VEC_SIG);
  expect_status(m, &o, TA_E_SERAPH_HEADER_INVALID);
  /* header parsing never says anything about the values */
  ta_seraph_request_t req;
  const char *detail = NULL;
  m = vec_msg(p);
  set_field(m, TA_SERAPH_H_KEY, "TmdU-VRo=");
  assert_int_equal(ta_seraph_parse(p, m, &req, &detail), TA_E_SERAPH_HEADER_INVALID);
  assert_non_null(detail);
  assert_null(strstr(detail, "TmdU"));
  apr_pool_destroy(p);
}

/* ---- signer and registry-level verifier with generated keys ------------- */

static ta_app_t *make_app(apr_pool_t *p, ta_key_t *const *keys, size_t n)
{
  ta_app_t *a = apr_pcalloc(p, sizeof(*a));
  a->id = "confluence:5749012";
  a->name = "Confluence";
  a->enabled = 1;
  a->protocols = TA_APP_PROTO_ALL;
  a->timeout = apr_time_from_sec(10);
  a->keys = apr_pcalloc(p, n * sizeof(ta_app_key_t));
  a->n_keys = n;
  for (size_t i = 0; i < n; i++) {
    a->keys[i].key = keys[i];
    a->keys[i].alg = TA_ALG_RSA_V1_5_SHA256;
  }
  return a;
}

static ta_msg_t *signed_msg(apr_pool_t *p, const ta_key_t *k, int version, apr_time_t created,
                            const char *user)
{
  ta_seraph_headers_t h;
  const char *err = NULL;
  if (ta_seraph_sign(p, k, "confluence:5749012", user, "https://jira.example.com/rest/api/2/search?jql=a%3Db",
                     version, created, &h, &err) != TA_OK)
    fail_msg("sign: %s", err);
  ta_msg_t *m = url_msg(p, "https", "jira.example.com", "/rest/api/2/search", "jql=a%3Db");
  ta_seraph_headers_add(m, &h);
  return m;
}

static void test_sign_verify_round_trip(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  apr_time_t now = apr_time_now();
  ta_key_t *keys[] = {F.rsa_pub};
  ta_app_t *app = make_app(p, keys, 1);
  ta_seraph_claim_t c;
  const char *detail = NULL;
  for (int v = 2; v <= 3; v++) {
    ta_msg_t *m = signed_msg(p, F.rsa, v, now, "fred");
    assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, &detail), TA_OK);
    assert_ptr_equal(c.app, app);
    assert_ptr_equal(c.key, &app->keys[0]);
    assert_string_equal(c.user, "fred");
    assert_int_equal(c.version, v);
    assert_int_equal(c.created, apr_time_from_msec(apr_time_as_msec(now)));
    assert_int_equal(c.replay_expires, c.created + app->timeout);
    assert_true(strncmp(c.replay_key, "seraph:confluence:5749012:", 26) == 0);
  }
  /* the signer refuses what would not survive the wire */
  ta_seraph_headers_t h;
  assert_int_equal(ta_seraph_sign(p, F.rsa, "a", "fr\ned", "https://x/", 2, now, &h, NULL), TA_E_USER_INVALID);
  assert_int_equal(ta_seraph_sign(p, F.rsa, "a", "fred", NULL, 2, now, &h, NULL), TA_E_CONFIG);
  assert_int_equal(ta_seraph_sign(p, F.rsa, "a", "fred", "https://x/\n", 2, now, &h, NULL), TA_E_CONFIG);
  assert_int_equal(ta_seraph_sign(p, F.rsa_pub, "a", "fred", "https://x/", 2, now, &h, NULL), TA_E_KEY_INVALID);
  assert_int_equal(ta_seraph_sign(p, F.rsa, "a", "fred", "https://x/", 7, now, &h, NULL), TA_E_CONFIG);
  apr_pool_destroy(p);
}

static void test_app_rules(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  apr_time_t now = apr_time_now();
  ta_seraph_claim_t c;
  ta_msg_t *m = signed_msg(p, F.rsa, 2, now, "fred");
  /* rotation: the second registered key verifies */
  ta_key_t *two[] = {F.rsa2, F.rsa_pub};
  ta_app_t *app = make_app(p, two, 2);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_OK);
  assert_int_equal(c.key_index, 1);
  /* only a wrong key */
  ta_key_t *wrong[] = {F.rsa2};
  app = make_app(p, wrong, 1);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_E_SERAPH_MAGIC);
  /* the right key, expired */
  app = make_app(p, two, 2);
  app->keys[1].not_after = now - apr_time_from_sec(1);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_E_SERAPH_MAGIC);
  app->keys[0].not_after = now - apr_time_from_sec(1);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_E_NO_VALID_KEY);
  /* disabled, not registered for seraph, unknown */
  app = make_app(p, two, 2);
  app->enabled = 0;
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_E_APP_DISABLED);
  app->enabled = 1;
  app->protocols = TA_APP_PROTO_RFC9421;
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now, &c, NULL), TA_E_SERAPH_PROTOCOL);
  assert_int_equal(ta_seraph_verify_app(p, NULL, m, NULL, now, &c, NULL), TA_E_UNKNOWN_APP);
  assert_string_equal(ta_seraph_error_header(p, TA_E_UNKNOWN_APP, &c, NULL, NULL),
                      "APP_UNKNOWN;\tUnknown Application: {0};\t[\"confluence:5749012\"]");
  /* the app's timeout in the past; 900 s ahead is fine, 901 is not */
  app = make_app(p, two, 2);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now + apr_time_from_sec(11), &c, NULL),
                   TA_E_CLOCK_PAST);
  assert_string_equal(ta_seraph_legacy_error(TA_E_CLOCK_PAST), "OLD_CERT");
  const char *hdr = ta_seraph_error_header(p, TA_E_CLOCK_PAST, &c, NULL, NULL);
  const char *old_prefix = "OLD_CERT;\tCertificate too old. Application: {0} Certificate Created: {1} "
                           "Timeout: {2};\t[\"confluence:5749012\",\"";
  assert_true(strncmp(hdr, old_prefix, strlen(old_prefix)) == 0);
  assert_non_null(strstr(hdr, " UTC 20"));
  assert_non_null(strstr(hdr, "\",\"10000\"]"));
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now - apr_time_from_sec(900), &c, NULL), TA_OK);
  assert_int_equal(ta_seraph_verify_app(p, app, m, NULL, now - apr_time_from_sec(901), &c, NULL),
                   TA_E_CLOCK_FUTURE);
  apr_pool_destroy(p);
}

static void test_registry_lookup(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  apr_time_t now = apr_time_now();
  const char *pem = ta_key_public_pem(p, F.rsa);
  const char *xml = apr_pstrcat(p,
    "<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\">"
    "<application id=\"confluence:5749012\" protocols=\"seraph\">"
    "<key alg=\"rsa-v1_5-sha256\">", pem, "</key><timeout>10000</timeout></application>"
    "</registry>", NULL);
  ta_registry_t *reg = NULL;
  const char *err = NULL;
  if (ta_registry_parse(p, xml, strlen(xml), "test.xml", &reg, &err) != TA_OK)
    fail_msg("registry: %s", err ? err : "?");
  ta_seraph_claim_t c;
  ta_msg_t *m = signed_msg(p, F.rsa, 2, now, "fred");
  assert_int_equal(ta_seraph_verify(p, reg, m, NULL, now, &c, NULL), TA_OK);
  assert_string_equal(c.app->id, "confluence:5749012");
  assert_string_equal(c.user, "fred");
  set_field(m, TA_SERAPH_H_ID, "jira:1");
  assert_int_equal(ta_seraph_verify(p, reg, m, NULL, now, &c, NULL), TA_E_UNKNOWN_APP);
  apr_pool_destroy(p);
}

/* ---- legacy error header ------------------------------------------------ */

static void test_legacy_error_header(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  /* the exact strings of atlassian's own tests */
  assert_string_equal(ta_seraph_error_header(p, TA_E_IP_NOT_ALLOWED, NULL, "10.9.2.3", NULL),
                      "BAD_REMOTE_IP;\tRequest not allowed from IP address: {0};\t[\"10.9.2.3\"]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_PROXY_CHAIN, NULL, " 192.168.0.1", NULL),
                      "BAD_XFORWARD_IP;\tRequest not allowed from IP address: {0};\t[\" 192.168.0.1\"]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_PATH_NOT_ALLOWED, NULL, NULL, "/secure/admin"),
                      "BAD_URL;\tRequest not allowed to access URL: {0};\t[\"/secure/admin\"]");
  assert_string_equal(ta_seraph_error_header(p, TA_E_USER_DENIED, NULL, NULL, NULL),
                      "PERMISSION_DENIED;\tPermission Denied;\t[]");
  /* statuses without a legacy twin: SYSTEM with our token */
  ta_seraph_claim_t c;
  memset(&c, 0, sizeof(c));
  c.app_id = "a";
  assert_string_equal(ta_seraph_error_header(p, TA_E_REPLAY, &c, NULL, NULL),
                      "SYSTEM;\tException: {0} occurred serving request for application: {1};\t[\"replay\",\"a\"]");
  /* from a request instead of a claim (what the module has at hand) */
  ta_msg_t *m = vec_msg(p);
  m->authority = "backend:8080";
  assert_string_equal(ta_seraph_error_header_msg(p, TA_E_SERAPH_URL, NULL, m, NULL, NULL, NULL),
                      "BAD_SIGNATURE;\tBad signature for URL: {0};\t"
                      "[\"http://backend:8080/rest/api/2/issue/ABC-1?expand=names&x=%20y\"]");
  assert_string_equal(ta_seraph_error_header_msg(p, TA_E_SERAPH_URL, NULL, m, "https://ext", NULL, NULL),
                      "BAD_SIGNATURE;\tBad signature for URL: {0};\t"
                      "[\"https://ext/rest/api/2/issue/ABC-1?expand=names&x=%20y\"]");
  assert_string_equal(ta_seraph_error_header_msg(p, TA_E_SERAPH_MAGIC, NULL, m, NULL, NULL, NULL),
                      "BAD_MAGIC;\tUnable to decrypt certificate {0} for application {1};\t"
                      "[\"public key\",\"myAppId\"]");
  set_field(m, TA_SERAPH_H_VERSION, "1");
  assert_string_equal(ta_seraph_error_header_msg(p, TA_E_SERAPH_PROTOCOL, NULL, m, NULL, NULL, NULL),
                      "BAD_PROTOCOL_VERSION;\tUnsupported protocol version: {0}. required {1};\t[\"1\",\"2\"]");
  /* JSON escaping keeps the value on one header line */
  c.user = "a\"b\\c</d\ne\tf\x7fg\xe2\x80\xa8h\xc2\x85i\xffj\xc3\xa9";
  assert_string_equal(ta_seraph_error_header(p, TA_E_USER_INVALID, &c, NULL, NULL),
                      "USER_UNKNOWN;\tUnknown User: {0};\t"
                      "[\"a\\\"b\\\\c<\\/d\\ne\\tf\\u007Fg\\u2028h\\u0085i\\uFFFDj\xc3\xa9\"]");
  /* every code of the table maps to some legacy code */
  for (int code = 0; code < 10000; code++) {
    if (strcmp(ta_error_token((ta_status_t)code), "unknown") == 0)
      continue;
    const char *h = ta_seraph_error_header(p, (ta_status_t)code, NULL, NULL, NULL);
    assert_non_null(h);
    assert_null(strpbrk(h, "\r\n"));
    assert_non_null(ta_seraph_legacy_error((ta_status_t)code));
  }
  apr_pool_destroy(p);
}

/* ---- /admin/appTrustCertificate document ---------------------------------- */

static void test_certdoc(void **state)
{
  (void)state;
  apr_pool_t *p = subpool();
  size_t n;
  const char *pub_b64 = (const char *)read_file(p, "pub.b64", &n);
  pub_b64 = apr_pstrndup(p, pub_b64, strcspn(pub_b64, "\r\n"));
  const unsigned char *der = read_file(p, "pub.der", &n);
  char *doc = ta_seraph_certdoc_format_pkey(p, "myAppId", F.vec_pub, 2);
  assert_string_equal(doc, apr_pstrcat(p, "myAppId\n", pub_b64, "\n2\n-1159983122", NULL));
  ta_seraph_certdoc_t d;
  const char *err = NULL;
  assert_int_equal(ta_seraph_certdoc_parse(p, doc, strlen(doc), &d, &err), TA_OK);
  assert_string_equal(d.app_id, "myAppId");
  assert_int_equal(d.version, 2);
  assert_int_equal(d.spki_der_len, n);
  assert_memory_equal(d.spki_der, der, n);
  assert_true(strncmp(d.public_pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
  /* a 2048-bit key through ta_key_t, and back through the key loader */
  doc = ta_seraph_certdoc_format(p, "jira:42", F.rsa, 1);
  assert_int_equal(ta_seraph_certdoc_parse(p, doc, strlen(doc), &d, &err), TA_OK);
  ta_key_t *k = NULL;
  assert_int_equal(ta_key_load_public(p, d.public_pem, strlen(d.public_pem), TA_ALG_RSA_V1_5_SHA256, &k, &err),
                   TA_OK);
  assert_string_equal(ta_key_fingerprint(p, k), ta_key_fingerprint(p, F.rsa));
  /* Java client tolerance: CRLF, surrounding blanks and blank lines */
  const char *loose = apr_pstrcat(p, "\r\n  myAppId \r\n\r\n", pub_b64, "\r\n 1\r\n-1159983122\r\n\n", NULL);
  assert_int_equal(ta_seraph_certdoc_parse(p, loose, strlen(loose), &d, &err), TA_OK);
  assert_string_equal(d.app_id, "myAppId");
  assert_int_equal(d.version, 1);
  /* protocol-0 document: two lines */
  const char *two = apr_pstrcat(p, "old\n", pub_b64, NULL);
  assert_int_equal(ta_seraph_certdoc_parse(p, two, strlen(two), &d, &err), TA_OK);
  assert_int_equal(d.version, -1);
  /* refused */
  const char *bad[] = {
    "",
    "onlyid",
    apr_pstrcat(p, "id\n", pub_b64, "\n2", NULL),
    apr_pstrcat(p, "id\n", pub_b64, "\n2\n-1159983123", NULL),
    apr_pstrcat(p, "id\n", pub_b64, "\nx\n-1159983122", NULL),
    apr_pstrcat(p, "id\n", pub_b64, "\n2\n-1159983122\nmore", NULL),
    "id\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n2\n-1159983122", /* Ed25519 */
    "id\nnot*base64\n2\n-1159983122",
    "<html><body>Login</body></html>",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err = NULL;
    if (ta_seraph_certdoc_parse(p, bad[i], strlen(bad[i]), &d, &err) != TA_E_SERAPH_CERTDOC)
      fail_msg("bad document %zu accepted", i);
    assert_non_null(err);
  }
  assert_null(ta_seraph_certdoc_format_pkey(p, "a\nb", F.vec_pub, 2));
  apr_pool_destroy(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vector_files_match_notes),
    cmocka_unit_test(test_vector_unwrap),
    cmocka_unit_test(test_vector_magic_is_deterministic),
    cmocka_unit_test(test_vector_verifies),
    cmocka_unit_test(test_vector_time_edges),
    cmocka_unit_test(test_vector_base_url),
    cmocka_unit_test(test_vector_tampered_signature),
    cmocka_unit_test(test_vector_wrong_key),
    cmocka_unit_test(test_bad_magic_header),
    cmocka_unit_test(test_certificate_contents),
    cmocka_unit_test(test_v2_user_substitution_shares_replay_key),
    cmocka_unit_test(test_missing_headers),
    cmocka_unit_test(test_protocol_versions),
    cmocka_unit_test(test_insecure_versions_refused_by_default),
    cmocka_unit_test(test_version3),
    cmocka_unit_test(test_garbage_and_oversize),
    cmocka_unit_test(test_sign_verify_round_trip),
    cmocka_unit_test(test_app_rules),
    cmocka_unit_test(test_registry_lookup),
    cmocka_unit_test(test_legacy_error_header),
    cmocka_unit_test(test_certdoc),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

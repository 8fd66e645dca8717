/* trustapp-admin TLS diagnosis (tools/ta_tls_diag.c): certificates made in
 * the test, real TLS handshakes between two in-memory OpenSSL endpoints (a
 * BIO pair, no network) with the tool's recorder installed on the client,
 * and the root cause ta_net_diagnose names for what was recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ta_tls_diag.h"

#define DAY (24L * 3600L)

static apr_pool_t *pool;

typedef struct {
  X509 *cert;
  EVP_PKEY *key;
} pki_t;

/* One CA hierarchy shared by the tests: root -> intermediate -> leaf. */
static pki_t root, intermediate, leaf, expired, not_yet_valid, self_signed, weak_leaf;

static EVP_PKEY *ec_key(void)
{
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  assert_non_null(k);
  return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  assert_non_null(ext);
  assert_int_equal(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/* issuer NULL = self-signed. san may be NULL. Validity relative to now. */
static pki_t make_cert(const char *cn, const pki_t *issuer, EVP_PKEY *key, long from, long to,
                       const char *san, int ca)
{
  static long serial = 1;
  pki_t out = {X509_new(), key};
  X509 *x = out.cert;
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"TA Test", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509 *issuer_cert = issuer ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  assert_int_equal(X509_set_pubkey(x, key), 1);
  add_ext(x, issuer_cert, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, issuer_cert, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  add_ext(x, issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer)
    add_ext(x, issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (san)
    add_ext(x, issuer_cert, NID_subject_alt_name, san);
  assert_true(X509_sign(x, issuer ? issuer->key : key, EVP_sha256()) > 0);
  return out;
}

static void free_pki(pki_t *k)
{
  X509_free(k->cert);
  EVP_PKEY_free(k->key);
}

static int setup(void **state)
{
  (void)state;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return -1;
  root = make_cert("TA Test Root", NULL, ec_key(), -DAY, 3650 * DAY, NULL, 1);
  intermediate = make_cert("TA Test Intermediate", &root, ec_key(), -DAY, 365 * DAY, NULL, 1);
  const char *san = "DNS:server.example,DNS:*.wild.example,IP:127.0.0.1,IP:::1";
  leaf = make_cert("server.example", &intermediate, ec_key(), -DAY, 90 * DAY, san, 0);
  expired = make_cert("old.example", &intermediate, ec_key(), -30 * DAY, -2 * DAY, "DNS:server.example", 0);
  not_yet_valid = make_cert("future.example", &intermediate, ec_key(), 5 * DAY, 90 * DAY, "DNS:server.example", 0);
  self_signed = make_cert("server.example", NULL, ec_key(), -DAY, 90 * DAY, "DNS:server.example", 0);
  EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  if (rsa1024 == NULL)
    return -1;
  weak_leaf = make_cert("server.example", &intermediate, rsa1024, -DAY, 90 * DAY, "DNS:server.example", 0);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  pki_t *all[] = {&root, &intermediate, &leaf, &expired, &not_yet_valid, &self_signed, &weak_leaf};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    free_pki(all[i]);
  apr_pool_destroy(pool);
  apr_terminate();
  return 0;
}

static const char *pem_of(X509 *x)
{
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_X509(b, x), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  const char *s = apr_pstrndup(pool, data, (apr_size_t)n);
  BIO_free(b);
  return s;
}

static const ta_cert_info_t *cert(const ta_tls_capture_t *cap, int i)
{
  assert_true(i < cap->certs->nelts);
  return APR_ARRAY_IDX(cap->certs, i, ta_cert_info_t *);
}

/* ---- handshake between two in-memory endpoints ---- */

typedef struct {
  const pki_t *server;            /* certificate and key the server uses */
  const pki_t *chain;             /* extra certificate the server sends, or NULL */
  const pki_t *trust;             /* the client's trust anchor, or NULL */
  const char *host;               /* name the client checks (DNS or IP), or NULL */
  int server_wants_client_cert;
  int client_security_level;      /* 0 = OpenSSL default */
} handshake_t;

/* Returns 1 when the handshake completed on both sides. */
static int run_handshake(const handshake_t *h, ta_tls_capture_t *cap)
{
  SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(sctx);
  assert_non_null(cctx);
  SSL_CTX_set_security_level(sctx, 0);  /* the server may serve a weak key; the client judges */
  assert_int_equal(SSL_CTX_use_certificate(sctx, h->server->cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(sctx, h->server->key), 1);
  if (h->chain)
    assert_int_equal(SSL_CTX_add1_chain_cert(sctx, h->chain->cert), 1);
  if (h->server_wants_client_cert)
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION);
  if (h->client_security_level)
    SSL_CTX_set_security_level(cctx, h->client_security_level);
  if (h->trust)
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), h->trust->cert), 1);
  assert_int_equal(ta_tls_capture_install(cctx, cap), 0);

  SSL *server = SSL_new(sctx), *client = SSL_new(cctx);
  BIO *cbio, *sbio;
  assert_int_equal(BIO_new_bio_pair(&cbio, 0, &sbio, 0), 1);
  SSL_set_bio(client, cbio, cbio);
  SSL_set_bio(server, sbio, sbio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  if (h->host) {
    X509_VERIFY_PARAM *vp = SSL_get0_param(client);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, h->host) != 1)
      assert_int_equal(SSL_set1_host(client, h->host), 1);
  }
  int client_done = 0, server_done = 0;
  for (int round = 0; round < 50 && !(client_done && server_done); round++) {
    int rc = SSL_do_handshake(client);
    if (rc == 1)
      client_done = 1;
    else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ)
      break;
    rc = SSL_do_handshake(server);
    if (rc == 1)
      server_done = 1;
    else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ)
      break;
  }
  /* the recorder only records: OpenSSL's verdict stands */
  long verdict = SSL_get_verify_result(client);
  if (cap->verify_error != 0)
    assert_int_equal(verdict, cap->verify_error);
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  ERR_clear_error();
  return client_done && server_done;
}

static ta_net_facts_t facts_for(const ta_tls_capture_t *cap, const char *host, int curl_code)
{
  ta_net_facts_t f = {0};
  f.host = host;
  f.curl_code = curl_code;
  f.curl_error = "";
  f.connect_timeout_ms = 10000;
  f.tls = cap;
  return f;
}

static void test_verified_handshake_records_chain(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  handshake_t h = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "server.example"};
  assert_true(run_handshake(&h, cap));
  assert_int_equal(cap->verify_error, 0);
  assert_int_equal(cap->client_cert_requested, 0);
  assert_non_null(cap->tls_version);
  assert_true(strcmp(cap->tls_version, "TLSv1.3") == 0 || strcmp(cap->tls_version, "TLSv1.2") == 0);
  assert_non_null(cap->cipher);
  /* presented order, as the server sent it */
  assert_int_equal(cap->certs->nelts, 2);
  assert_int_equal(cert(cap, 0)->depth, 0);
  assert_string_equal(cert(cap, 0)->subject, "CN=server.example,O=TA Test");
  assert_string_equal(cert(cap, 0)->issuer, "CN=TA Test Intermediate,O=TA Test");
  assert_string_equal(cert(cap, 1)->subject, "CN=TA Test Intermediate,O=TA Test");
  assert_int_equal(cert(cap, 1)->depth, 1);
  assert_false(cert(cap, 0)->self_issued);
  ta_net_facts_t f = facts_for(cap, "server.example", CURLE_OK);
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "ok");
  /* the chain can be saved as the server presented it */
  assert_string_equal(ta_tls_chain_pem(pool, cap),
                      apr_pstrcat(pool, pem_of(leaf.cert), pem_of(intermediate.cert), NULL));
}

static void expect_verify_failure(const handshake_t *h, int verify_error, int depth, const char *token,
                                  ta_net_diagnosis_t *out)
{
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  assert_false(run_handshake(h, cap));
  assert_int_equal(cap->verify_error, verify_error);
  assert_int_equal(cap->verify_error_depth, depth);
  assert_true(cap->certs->nelts >= 1);
  ta_net_facts_t f = facts_for(cap, h->host, CURLE_PEER_FAILED_VERIFICATION);
  *out = ta_net_diagnose(pool, &f);
  assert_string_equal(out->token, token);
  assert_non_null(out->fix);
  assert_true(strlen(out->fix) > 0);
}

/* The diagnosis names the certificate's date, as an RFC 3339 UTC time. */
static void assert_names_time(const char *message, const ASN1_TIME *t)
{
  struct tm tm;
  assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  assert_non_null(strstr(message, when));
}

static void test_expired(void **state)
{
  (void)state;
  handshake_t h = {.server = &expired, .chain = &intermediate, .trust = &root, .host = "server.example"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_CERT_HAS_EXPIRED, 0, "expired", &d);
  assert_names_time(d.message, X509_get0_notAfter(expired.cert));
  assert_non_null(strstr(d.message, "CN=old.example"));
  assert_non_null(strstr(d.message, "depth 0"));
}

static void test_not_yet_valid(void **state)
{
  (void)state;
  handshake_t h = {.server = &not_yet_valid, .chain = &intermediate, .trust = &root, .host = "server.example"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_CERT_NOT_YET_VALID, 0, "not-yet-valid", &d);
  assert_names_time(d.message, X509_get0_notBefore(not_yet_valid.cert));
  assert_non_null(strstr(d.message, "CN=future.example"));
}

static void test_self_signed(void **state)
{
  (void)state;
  handshake_t h = {.server = &self_signed, .trust = &root, .host = "server.example"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 0, "self-signed", &d);
  assert_non_null(strstr(d.message, "CN=server.example"));
  assert_non_null(strstr(d.fix, "tls-fetch"));
}

static void test_unknown_issuer(void **state)
{
  (void)state;
  /* the client trusts nothing the server's chain leads to */
  handshake_t h = {.server = &leaf, .chain = &intermediate, .trust = NULL, .host = "server.example"};
  ta_net_diagnosis_t d;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  assert_false(run_handshake(&h, cap));
  assert_int_equal(cap->verify_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  ta_net_facts_t f = facts_for(cap, "server.example", CURLE_PEER_FAILED_VERIFICATION);
  d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "unknown-issuer");
  assert_non_null(strstr(d.message, "issuer 'CN=TA Test Root,O=TA Test'"));
  assert_non_null(strstr(d.fix, "--cacert"));
}

static void test_chain_incomplete(void **state)
{
  (void)state;
  /* the server omits its intermediate: the root alone cannot reach the leaf */
  handshake_t h = {.server = &leaf, .chain = NULL, .trust = &root, .host = "server.example"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, "unknown-issuer", &d);
  assert_non_null(strstr(d.message, "no trusted CA issued 'CN=server.example,O=TA Test'"));
  assert_non_null(strstr(d.message, "issuer 'CN=TA Test Intermediate,O=TA Test'"));
  assert_non_null(strstr(d.fix, "full chain"));
}

static void test_wrong_host_name(void **state)
{
  (void)state;
  handshake_t h = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "other.example"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_HOSTNAME_MISMATCH, 0, "name-mismatch", &d);
  assert_string_equal(d.message, "the certificate is not valid for 'other.example' (it names "
                                 "DNS:server.example,DNS:*.wild.example,IP:127.0.0.1,IP:::1)");
}

static void test_wrong_ip_address(void **state)
{
  (void)state;
  handshake_t h = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "127.0.0.2"};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_IP_ADDRESS_MISMATCH, 0, "name-mismatch", &d);
  assert_non_null(strstr(d.message, "'127.0.0.2'"));

  /* the listed address and a wildcard name pass */
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  handshake_t ok_ip = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "127.0.0.1"};
  assert_true(run_handshake(&ok_ip, cap));
  cap = ta_tls_capture_make(pool);
  handshake_t ok_wild = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "a.wild.example"};
  assert_true(run_handshake(&ok_wild, cap));
  assert_int_equal(cap->verify_error, 0);
}

static void test_weak_key(void **state)
{
  (void)state;
  handshake_t h = {.server = &weak_leaf, .chain = &intermediate, .trust = &root, .host = "server.example",
                   .client_security_level = 2};
  ta_net_diagnosis_t d;
  expect_verify_failure(&h, X509_V_ERR_EE_KEY_TOO_SMALL, 0, "certificate-invalid", &d);
  assert_non_null(strstr(d.message, X509_verify_cert_error_string(X509_V_ERR_EE_KEY_TOO_SMALL)));
  assert_non_null(strstr(d.message, "CN=server.example"));
}

static void test_client_cert_requested(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  handshake_t h = {.server = &leaf, .chain = &intermediate, .trust = &root, .host = "server.example",
                   .server_wants_client_cert = 1};
  assert_false(run_handshake(&h, cap));
  assert_int_equal(cap->verify_error, 0);
  assert_int_equal(cap->client_cert_requested, 1);
  ta_net_facts_t f = facts_for(cap, "server.example", CURLE_RECV_ERROR);
  f.curl_error = "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required";
  assert_string_equal(ta_net_diagnose(pool, &f).token, "client-cert-required");
  /* without the alert text, the recorded request alone says it */
  f.curl_error = "Connection reset by peer";
  assert_string_equal(ta_net_diagnose(pool, &f).token, "client-cert-required");
  /* a certificate was given: then a reset is not blamed on a missing one */
  f.client_cert_given = 1;
  assert_string_equal(ta_net_diagnose(pool, &f).token, "handshake-reset");
}

/* ---- certificate descriptions ---- */

static void test_describe_from_pem(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  ta_tls_capture_add_pem(cap, pem_of(leaf.cert));
  ta_tls_capture_add_pem(cap, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  ta_tls_capture_add_pem(cap, "");
  ta_tls_capture_add_pem(cap, pem_of(root.cert));
  assert_int_equal(cap->certs->nelts, 2);
  const ta_cert_info_t *l = cert(cap, 0), *r = cert(cap, 1);
  assert_int_equal(l->depth, 0);
  assert_int_equal(r->depth, 1);
  assert_false(l->self_issued);
  assert_true(r->self_issued);
  unsigned char md[32];
  unsigned int n = 0;
  assert_int_equal(X509_digest(leaf.cert, EVP_sha256(), md, &n), 1);
  char hex[65], colon[96];
  for (unsigned i = 0; i < n; i++) {
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(colon + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
  }
  assert_string_equal(l->sha256, hex);
  assert_string_equal(l->sha256_colon, colon);
  assert_int_equal(strlen(l->sha256_colon), 95);
  assert_int_equal(l->names->nelts, 4);
  assert_string_equal(APR_ARRAY_IDX(l->names, 0, const char *), "DNS:server.example");
  assert_string_equal(APR_ARRAY_IDX(l->names, 1, const char *), "DNS:*.wild.example");
  assert_string_equal(APR_ARRAY_IDX(l->names, 2, const char *), "IP:127.0.0.1");
  assert_string_equal(APR_ARRAY_IDX(l->names, 3, const char *), "IP:::1");
  assert_int_equal(r->names->nelts, 0);
  /* ISO 8601 UTC, and the dates are the certificate's */
  assert_int_equal(strlen(l->not_after), 20);
  assert_int_equal(l->not_after[10], 'T');
  assert_int_equal(l->not_after[19], 'Z');
  assert_true(strcmp(l->not_before, l->not_after) < 0);
  assert_true(strcmp(r->not_after, l->not_after) > 0);
  assert_string_equal(l->pem, pem_of(leaf.cert));
}

static void test_hostile_names_are_escaped(void **state)
{
  (void)state;
  pki_t hostile = make_cert("evil\n\x1b[31mred", &intermediate, ec_key(), -DAY, DAY,
                            "DNS:ok.example", 0);
  /* a dNSName with control bytes, set directly (the config parser would refuse it) */
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  GENERAL_NAME *g = GENERAL_NAME_new();
  ASN1_IA5STRING *s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, "a\x1b[2Jb\x7f\n", 8);
  GENERAL_NAME_set0_value(g, GEN_DNS, s);
  sk_GENERAL_NAME_push(gens, g);
  X509_add1_ext_i2d(hostile.cert, NID_subject_alt_name, gens, 0, X509V3_ADD_REPLACE);
  GENERAL_NAMES_free(gens);
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  ta_tls_capture_add_pem(cap, pem_of(hostile.cert));
  assert_int_equal(cap->certs->nelts, 1);
  const ta_cert_info_t *ci = cert(cap, 0);
  for (const char *p = ci->subject; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
      fail_msg("control byte 0x%02x in subject '%s'", (unsigned char)*p, ci->subject);
  assert_int_equal(ci->names->nelts, 1);
  assert_string_equal(APR_ARRAY_IDX(ci->names, 0, const char *), "DNS:a?[2Jb??");
  const char *text = ta_tls_chain_text(pool, cap);
  assert_null(strchr(text, '\x1b'));
  free_pki(&hostile);
}

static void test_chain_text_and_json(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  assert_string_equal(ta_tls_chain_text(pool, cap), "no certificate was presented\n");
  assert_string_equal(ta_tls_chain_text(pool, NULL), "no certificate was presented\n");
  assert_string_equal(ta_tls_chain_pem(pool, cap), "");
  json_t *empty = ta_tls_chain_json(NULL);
  assert_int_equal(json_array_size(empty), 0);
  json_decref(empty);

  ta_tls_capture_add_pem(cap, pem_of(leaf.cert));
  ta_tls_capture_add_pem(cap, pem_of(root.cert));
  const ta_cert_info_t *l = cert(cap, 0), *r = cert(cap, 1);
  const char *want = apr_psprintf(pool,
      "certificate chain presented by the server (2):\n"
      "  [0] subject:  CN=server.example,O=TA Test\n"
      "      issuer:   CN=TA Test Intermediate,O=TA Test\n"
      "      valid:    %s .. %s\n"
      "      names:    DNS:server.example,DNS:*.wild.example,IP:127.0.0.1,IP:::1\n"
      "      SHA-256:  %s\n"
      "  [1] subject:  CN=TA Test Root,O=TA Test\n"
      "      issuer:   CN=TA Test Root,O=TA Test  (self-issued)\n"
      "      valid:    %s .. %s\n"
      "      names:    none\n"
      "      SHA-256:  %s\n",
      l->not_before, l->not_after, l->sha256_colon, r->not_before, r->not_after, r->sha256_colon);
  assert_string_equal(ta_tls_chain_text(pool, cap), want);

  json_t *arr = ta_tls_chain_json(cap);
  assert_int_equal(json_array_size(arr), 2);
  json_t *j0 = json_array_get(arr, 0), *j1 = json_array_get(arr, 1);
  assert_int_equal(json_integer_value(json_object_get(j0, "depth")), 0);
  assert_string_equal(json_string_value(json_object_get(j0, "subject")), l->subject);
  assert_string_equal(json_string_value(json_object_get(j0, "issuer")), l->issuer);
  assert_string_equal(json_string_value(json_object_get(j0, "not_before")), l->not_before);
  assert_string_equal(json_string_value(json_object_get(j0, "not_after")), l->not_after);
  assert_string_equal(json_string_value(json_object_get(j0, "sha256")), l->sha256);
  assert_int_equal(json_array_size(json_object_get(j0, "names")), 4);
  assert_string_equal(json_string_value(json_array_get(json_object_get(j0, "names"), 3)), "IP:::1");
  assert_true(json_is_false(json_object_get(j0, "self_issued")));
  assert_true(json_is_true(json_object_get(j1, "self_issued")));
  assert_int_equal(json_integer_value(json_object_get(j1, "depth")), 1);
  json_decref(arr);
}

/* ---- decisions from transfer facts alone ---- */

static const char *token_for(ta_net_facts_t f)
{
  return ta_net_diagnose(pool, &f).token;
}

static void test_proxy_decisions(void **state)
{
  (void)state;
  ta_net_facts_t f = facts_for(NULL, "server.example", CURLE_OK);
  f.proxy = "http://proxy.example:3128";
  f.http_status = 407;
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  /* 407 wins even over a "successful" transfer */
  assert_string_equal(d.token, "proxy-auth-required");
  assert_non_null(strstr(d.message, "http://proxy.example:3128"));
  f.http_status = 200;
  f.curl_code = CURLE_COULDNT_CONNECT;
  f.connect_status = 407;
  assert_string_equal(token_for(f), "proxy-auth-required");
  f.connect_status = 403;
  d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "proxy-refused");
  assert_non_null(strstr(d.message, "status 403"));
  f.connect_status = 200;
  assert_string_equal(token_for(f), "connection-refused");
  f.curl_code = CURLE_OK;
  f.http_status = 404;
  assert_string_equal(token_for(f), "ok");
}

static void test_curl_code_decisions(void **state)
{
  (void)state;
  static const struct { int code; const char *detail; const char *token; } cases[] = {
    {CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: nowhere.invalid", "dns-failure"},
    {CURLE_COULDNT_RESOLVE_PROXY, "", "dns-failure"},
    {CURLE_COULDNT_CONNECT, "Connection refused", "connection-refused"},
    {CURLE_SSL_CACERT_BADFILE, "error setting certificate file", "local-tls-config"},
    {CURLE_SSL_CERTPROBLEM, "unable to set private key file", "local-tls-config"},
    {CURLE_SSL_CIPHER, "", "local-tls-config"},
    {CURLE_SSL_CONNECT_ERROR, "error:0A000418:SSL routines::tlsv1 alert unknown ca", "client-cert-rejected"},
    {CURLE_RECV_ERROR, "sslv3 alert bad certificate", "client-cert-rejected"},
    {CURLE_SSL_CONNECT_ERROR, "alert certificate unknown", "client-cert-rejected"},
    {CURLE_SSL_CONNECT_ERROR, "error:0A00010B:SSL routines::wrong version number", "not-tls"},
    {CURLE_SSL_CONNECT_ERROR, "packet length too long", "not-tls"},
    {CURLE_SSL_CONNECT_ERROR, "tlsv1 alert protocol version", "tls-version"},
    {CURLE_SSL_CONNECT_ERROR, "unsupported protocol", "tls-version"},
    {CURLE_SEND_ERROR, "no protocols available", "tls-version"},
    {CURLE_GOT_NOTHING, "Empty reply from server", "handshake-reset"},
    {CURLE_SSL_CONNECT_ERROR, "tlsv13 alert certificate required", "client-cert-required"},
    {CURLE_URL_MALFORMAT, "bad URL", "network-error"},
    {CURLE_TOO_MANY_REDIRECTS, "", "network-error"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ta_net_facts_t f = facts_for(ta_tls_capture_make(pool), "nowhere.invalid", cases[i].code);
    f.curl_error = cases[i].detail;
    f.client_cert_given = 1;
    ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
    if (strcmp(d.token, cases[i].token) != 0)
      fail_msg("case %zu (curl %d, '%s'): %s, want %s", i, cases[i].code, cases[i].detail, d.token,
               cases[i].token);
    assert_true(d.fix && *d.fix);
    /* libcurl's own text stands in for an empty error buffer */
    const char *detail = *cases[i].detail ? cases[i].detail : curl_easy_strerror((CURLcode)cases[i].code);
    assert_non_null(strstr(d.message, detail));
  }
  ta_net_facts_t f = facts_for(NULL, "nowhere.invalid", CURLE_COULDNT_RESOLVE_HOST);
  f.curl_error = NULL;
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  assert_non_null(strstr(d.message, "'nowhere.invalid'"));
  assert_non_null(strstr(d.message, curl_easy_strerror(CURLE_COULDNT_RESOLVE_HOST)));
}

static void test_timeout_says_what_was_missing(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  ta_net_facts_t f = facts_for(cap, "server.example", CURLE_OPERATION_TIMEDOUT);
  f.connect_timeout_ms = 2500;
  f.curl_error = "Operation timed out";
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "timeout");
  assert_string_equal(d.message, "no connection/TLS handshake within 2500 ms (Operation timed out)");
  ta_tls_capture_add_pem(cap, pem_of(leaf.cert));
  d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.message, "no answer within 2500 ms (Operation timed out)");
}

static void test_peer_verification_without_recorded_error(void **state)
{
  (void)state;
  /* a resumed session records no verify error: the leaf is checked against the host */
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  ta_tls_capture_add_pem(cap, pem_of(leaf.cert));
  ta_net_facts_t f = facts_for(cap, "elsewhere.example", CURLE_PEER_FAILED_VERIFICATION);
  f.curl_error = "SSL: no alternative certificate subject name matches target host name";
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "name-mismatch");
  assert_non_null(strstr(d.message, "DNS:server.example"));
  f.host = "server.example";
  assert_string_equal(token_for(f), "certificate-invalid");
  f.host = "x.wild.example";
  assert_string_equal(token_for(f), "certificate-invalid");
  f.host = "a.b.wild.example";  /* a wildcard covers one label only */
  assert_string_equal(token_for(f), "name-mismatch");
  f.host = "127.0.0.1";
  assert_string_equal(token_for(f), "certificate-invalid");
  f.host = "::1";
  assert_string_equal(token_for(f), "certificate-invalid");
  f.host = "127.0.0.2";
  assert_string_equal(token_for(f), "name-mismatch");
  /* nothing presented: nothing to compare, no claim of a mismatch */
  f.tls = ta_tls_capture_make(pool);
  f.host = "elsewhere.example";
  assert_string_equal(token_for(f), "certificate-invalid");
  f.tls = NULL;
  assert_string_equal(token_for(f), "certificate-invalid");
}

static void test_recorded_error_wins_over_curl_code(void **state)
{
  (void)state;
  ta_tls_capture_t *cap = ta_tls_capture_make(pool);
  ta_tls_capture_add_pem(cap, pem_of(leaf.cert));
  ta_tls_capture_add_pem(cap, pem_of(intermediate.cert));
  cap->verify_error = X509_V_ERR_CERT_HAS_EXPIRED;
  cap->verify_error_depth = 1;
  ta_net_facts_t f = facts_for(cap, "server.example", CURLE_SSL_CONNECT_ERROR);
  f.curl_error = "wrong version number";
  ta_net_diagnosis_t d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "expired");
  /* the certificate at the failing depth is named, with its own date */
  assert_non_null(strstr(d.message, "'CN=TA Test Intermediate,O=TA Test' (depth 1)"));
  assert_non_null(strstr(d.message, cert(cap, 1)->not_after));
  /* a depth beyond the presented chain does not read past it */
  cap->verify_error_depth = 7;
  d = ta_net_diagnose(pool, &f);
  assert_string_equal(d.token, "expired");
  assert_non_null(strstr(d.message, "expired on ?"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_verified_handshake_records_chain),
    cmocka_unit_test(test_expired),
    cmocka_unit_test(test_not_yet_valid),
    cmocka_unit_test(test_self_signed),
    cmocka_unit_test(test_unknown_issuer),
    cmocka_unit_test(test_chain_incomplete),
    cmocka_unit_test(test_wrong_host_name),
    cmocka_unit_test(test_wrong_ip_address),
    cmocka_unit_test(test_weak_key),
    cmocka_unit_test(test_client_cert_requested),
    cmocka_unit_test(test_describe_from_pem),
    cmocka_unit_test(test_hostile_names_are_escaped),
    cmocka_unit_test(test_chain_text_and_json),
    cmocka_unit_test(test_proxy_decisions),
    cmocka_unit_test(test_curl_code_decisions),
    cmocka_unit_test(test_timeout_says_what_was_missing),
    cmocka_unit_test(test_peer_verification_without_recorded_error),
    cmocka_unit_test(test_recorded_error_wins_over_curl_code),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* Benchmark control, never installed: a location that does no
 * authentication but one signature verification per request, with the
 * same OpenSSL calls ta_key_verify makes (a context prepared once and
 * duplicated per call), over a signature base of a real request's size.
 * bench/run.sh compares /protected with it: what /protected costs beyond
 * this control is what mod_trustedapp adds beyond the verification itself,
 * including the verification's effect on the caches of everything else the
 * server does for the request.
 *
 *   AuthType BenchVerify
 *   BenchVerify ed25519|ecdsa-p256-sha256|rsa-pss-sha512 PRIVATE_KEY.pem
 *   Require valid-user
 *
 * (directory context). The key signs BASES distinct bases (their nonces
 * differ) at start-up; each request verifies the next one (500 if it
 * fails), as real traffic brings distinct signatures (one signature
 * verified over and over lets the branch predictor learn ed25519's and
 * ECDSA's data-dependent paths), and then passes as the user "bench-user",
 * so httpd's authorization runs as for /protected. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "bench_bases.h"

module AP_MODULE_DECLARE_DATA bench_verify_module;

#define BASES BENCH_BASES
#define BASE_MAX BENCH_BASE_MAX

static char bases[BASES][BASE_MAX];
static size_t base_len[BASES];
static atomic_uint next_base;

static void make_bases(void)
{
  bench_make_bases(bases, base_len);
}

typedef struct {
  EVP_PKEY *pkey;              /* the private key: signs the bases */
  EVP_PKEY *pub;               /* its public half alone: verifies, as the registry's keys do */
  EVP_MD *md;                  /* NULL: ed25519 (one-shot) */
  EVP_MD_CTX *one_shot;        /* ed25519 template */
  EVP_PKEY_CTX *over_digest;   /* ECDSA / RSA template */
  unsigned char sig[BASES][512];
  size_t sig_len[BASES];
} bench_key_t;

typedef struct {
  bench_key_t *key;
} bench_dir_t;

static apr_status_t free_key(void *data)
{
  bench_key_t *k = data;
  EVP_MD_CTX_free(k->one_shot);
  EVP_PKEY_CTX_free(k->over_digest);
  EVP_MD_free(k->md);
  EVP_PKEY_free(k->pub);
  EVP_PKEY_free(k->pkey);
  return APR_SUCCESS;
}

static int set_pss(EVP_PKEY_CTX *c, int pss)
{
  return !pss || (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) == 1
                  && EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 64) == 1
                  && EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA512", NULL) == 1);
}

/* Not inlined: bench/run.sh's instruction counts find it by name. */
__attribute__((noinline)) static int verify_once(const bench_key_t *k, unsigned i)
{
  int ok = 0;
  const unsigned char *data = (const unsigned char *)bases[i];
  if (k->md == NULL) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ok = c != NULL && EVP_MD_CTX_copy_ex(c, k->one_shot) == 1
         && EVP_DigestVerify(c, k->sig[i], k->sig_len[i], data, base_len[i]) == 1;
    EVP_MD_CTX_free(c);
    return ok;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(data, base_len[i], digest, &digest_len, k->md, NULL) != 1)
    return 0;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_dup(k->over_digest);
  ok = c != NULL && EVP_PKEY_verify(c, k->sig[i], k->sig_len[i], digest, digest_len) == 1;
  EVP_PKEY_CTX_free(c);
  return ok;
}

static const char *set_bench_verify(cmd_parms *cmd, void *conf, const char *alg, const char *file)
{
  bench_dir_t *dc = conf;
  const char *md_name = NULL;
  int pss = 0;
  if (!strcmp(alg, "ecdsa-p256-sha256"))
    md_name = "SHA256";
  else if (!strcmp(alg, "rsa-pss-sha512"))
    md_name = "SHA512", pss = 1;
  else if (strcmp(alg, "ed25519"))
    return apr_psprintf(cmd->pool, "BenchVerify: unknown algorithm '%s'", alg);
  bench_key_t *k = apr_pcalloc(cmd->pool, sizeof(*k));
  apr_pool_cleanup_register(cmd->pool, k, free_key, apr_pool_cleanup_null);
  FILE *f = fopen(file, "r");
  if (f == NULL)
    return apr_psprintf(cmd->pool, "BenchVerify: cannot open '%s'", file);
  k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  if (k->pkey == NULL)
    return apr_psprintf(cmd->pool, "BenchVerify: '%s' holds no private key", file);
  if (md_name != NULL && (k->md = EVP_MD_fetch(NULL, md_name, NULL)) == NULL)
    return "BenchVerify: digest unavailable";
  make_bases();
  int ok = 1;
  for (unsigned i = 0; ok && i < BASES; i++) {
    EVP_MD_CTX *sign = EVP_MD_CTX_new();
    EVP_PKEY_CTX *sign_pctx = NULL;
    k->sig_len[i] = sizeof(k->sig[i]);
    ok = sign != NULL && EVP_DigestSignInit(sign, &sign_pctx, k->md, NULL, k->pkey) == 1
         && set_pss(sign_pctx, pss)
         && EVP_DigestSign(sign, k->sig[i], &k->sig_len[i], (const unsigned char *)bases[i], base_len[i]) == 1;
    EVP_MD_CTX_free(sign);
  }
  unsigned char *spki = NULL;
  int spki_len = ok ? i2d_PUBKEY(k->pkey, &spki) : -1;
  const unsigned char *q = spki;
  ok = spki_len > 0 && (k->pub = d2i_PUBKEY(NULL, &q, spki_len)) != NULL;
  OPENSSL_free(spki);
  if (ok && k->md == NULL)
    ok = (k->one_shot = EVP_MD_CTX_new()) != NULL
         && EVP_DigestVerifyInit(k->one_shot, NULL, NULL, NULL, k->pub) == 1;
  else if (ok)
    ok = (k->over_digest = EVP_PKEY_CTX_new_from_pkey(NULL, k->pub, NULL)) != NULL
         && EVP_PKEY_verify_init(k->over_digest) == 1 && set_pss(k->over_digest, pss)
         && EVP_PKEY_CTX_set_signature_md(k->over_digest, k->md) == 1;
  for (unsigned i = 0; ok && i < BASES; i++)
    ok = verify_once(k, i);
  if (!ok)
    return apr_psprintf(cmd->pool, "BenchVerify: %s with '%s' does not sign and verify", alg, file);
  dc->key = k;
  return NULL;
}

static int verify_request(request_rec *r)
{
  const bench_dir_t *dc = ap_get_module_config(r->per_dir_config, &bench_verify_module);
  if (dc == NULL || dc->key == NULL || !ap_is_initial_req(r))
    return DECLINED;
  if (!verify_once(dc->key, atomic_fetch_add(&next_base, 1) % BASES)) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "BenchVerify: verification failed");
    return HTTP_INTERNAL_SERVER_ERROR;
  }
  r->user = "bench-user";
  r->ap_auth_type = "BenchVerify";
  return OK;
}

static void *create_dir(apr_pool_t *p, char *dir)
{
  (void)dir;
  return apr_pcalloc(p, sizeof(bench_dir_t));
}

static const command_rec commands[] = {
  AP_INIT_TAKE2("BenchVerify", set_bench_verify, NULL, OR_AUTHCFG,
                "algorithm and private key (PEM) of the benchmark's control verification"),
  { NULL }
};

static void register_hooks(apr_pool_t *p)
{
  (void)p;
  /* The phase in which mod_trustedapp verifies. */
  ap_hook_check_authn(verify_request, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
}

AP_DECLARE_MODULE(bench_verify) = {
  STANDARD20_MODULE_STUFF, create_dir, NULL, NULL, NULL, commands, register_hooks, 0,
};

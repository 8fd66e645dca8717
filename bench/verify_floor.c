/* The cost floor of one authenticated request: a single signature
 * verification, over signature bases of a real request's size. Prints, per
 * algorithm, the CPU time (one core) of
 *   floor ALG US   one ta_key_verify call (the library call the module makes)
 *   bare ALG US    the bare OpenSSL verification with everything prepared
 *                  once, as `openssl speed` measures it, plus hashing the base
 * Both cycle through BASES distinct (base, signature) pairs, as real traffic
 * does: verifying one signature over and over lets the branch predictor
 * learn the data-dependent paths of ed25519 and ECDSA verification and
 * reads 2-4 % faster than distinct signatures do.
 * Usage: verify_floor [SECONDS_PER_ALG]   (default 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "bench_bases.h"
#include "ta_keys.h"

#define BASES BENCH_BASES
#define BASE_MAX BENCH_BASE_MAX

static char bases[BASES][BASE_MAX];
static size_t base_len[BASES];

static void make_bases(void)
{
  bench_make_bases(bases, base_len);
}

static double cpu_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *md_of(ta_alg_t alg)
{
  switch (alg) {
  case TA_ALG_ECDSA_P256_SHA256: case TA_ALG_RSA_V1_5_SHA256: return "SHA256";
  case TA_ALG_RSA_PSS_SHA512: return "SHA512";
  default: return NULL;
  }
}

static int pss(EVP_PKEY_CTX *c, ta_alg_t alg)
{
  return alg != TA_ALG_RSA_PSS_SHA512
         || (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 64) == 1
             && EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA512", NULL) == 1);
}

/* One verification with nothing but OpenSSL's own work per call. */
static int bare_verify(EVP_MD_CTX *one_shot, EVP_PKEY_CTX *over_digest, EVP_MD *md, int i,
                       const unsigned char *sig, size_t sig_len)
{
  const unsigned char *data = (const unsigned char *)bases[i];
  if (one_shot != NULL)
    return EVP_DigestVerify(one_shot, sig, sig_len, data, base_len[i]) == 1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  return EVP_Digest(data, base_len[i], digest, &digest_len, md, NULL) == 1
         && EVP_PKEY_verify(over_digest, sig, sig_len, digest, digest_len) == 1;
}

static int measure_bare(ta_key_t *key, ta_alg_t alg, double seconds)
{
  static unsigned char sigs[BASES][1024];
  static size_t sig_lens[BASES];
  EVP_PKEY *pkey = ta_key_evp_pkey(key);
  EVP_MD *md = md_of(alg) ? EVP_MD_fetch(NULL, md_of(alg), NULL) : NULL;
  EVP_MD_CTX *one_shot = NULL;
  EVP_PKEY_CTX *over_digest = NULL;
  int ok = 1;
  /* OpenSSL's own DER signatures (ECDSA): what EVP_PKEY_verify takes. */
  for (int i = 0; ok && i < BASES; i++) {
    EVP_MD_CTX *sign = EVP_MD_CTX_new();
    EVP_PKEY_CTX *sign_pctx = NULL;
    sig_lens[i] = sizeof(sigs[i]);
    ok = sign != NULL && EVP_DigestSignInit(sign, &sign_pctx, md, NULL, pkey) == 1
         && pss(sign_pctx, alg)
         && EVP_DigestSign(sign, sigs[i], &sig_lens[i], (const unsigned char *)bases[i], base_len[i]) == 1;
    EVP_MD_CTX_free(sign);
  }
  if (ok && md == NULL)
    ok = (one_shot = EVP_MD_CTX_new()) != NULL
         && EVP_DigestVerifyInit(one_shot, NULL, NULL, NULL, pkey) == 1;
  else if (ok)
    ok = (over_digest = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) != NULL
         && EVP_PKEY_verify_init(over_digest) == 1 && pss(over_digest, alg)
         && EVP_PKEY_CTX_set_signature_md(over_digest, md) == 1;
  for (int i = 0; ok && i < BASES; i++)
    ok = bare_verify(one_shot, over_digest, md, i, sigs[i], sig_lens[i]);
  long n = 0;
  double start = cpu_seconds(), now = start;
  while (ok && now - start < seconds) {
    for (int i = 0; ok && i < 64; i++, n++)
      ok = bare_verify(one_shot, over_digest, md, (int)(n % BASES), sigs[n % BASES], sig_lens[n % BASES]);
    now = cpu_seconds();
  }
  if (ok)
    printf("bare %s %.2f\n", ta_alg_name(alg), (now - start) / (double)n * 1e6);
  else
    fprintf(stderr, "verify_floor: bare OpenSSL %s verification failed\n", ta_alg_name(alg));
  EVP_MD_CTX_free(one_shot);
  EVP_PKEY_CTX_free(over_digest);
  EVP_MD_free(md);
  return ok ? 0 : 1;
}

static int measure(apr_pool_t *p, ta_alg_t alg, double seconds)
{
  static unsigned char *sigs[BASES];
  static size_t sig_lens[BASES];
  ta_key_t *key;
  const char *err = NULL;
  if (ta_key_generate(p, alg, 2048, &key, &err) != TA_OK) {
    fprintf(stderr, "verify_floor: cannot generate %s key: %s\n", ta_alg_name(alg), err ? err : "?");
    return 1;
  }
  for (int i = 0; i < BASES; i++) {
    if (ta_key_sign(p, key, (const unsigned char *)bases[i], base_len[i], &sigs[i], &sig_lens[i]) != TA_OK) {
      fprintf(stderr, "verify_floor: cannot sign with %s\n", ta_alg_name(alg));
      return 1;
    }
    /* warms up, and proves the measured path is the accepting one */
    if (ta_key_verify(key, (const unsigned char *)bases[i], base_len[i], sigs[i], sig_lens[i]) != TA_OK) {
      fprintf(stderr, "verify_floor: %s signature does not verify\n", ta_alg_name(alg));
      return 1;
    }
  }
  long n = 0;
  double start = cpu_seconds(), now;
  do {
    for (int i = 0; i < 64; i++, n++) {
      long j = n % BASES;
      if (ta_key_verify(key, (const unsigned char *)bases[j], base_len[j], sigs[j], sig_lens[j]) != TA_OK)
        return 1;
    }
    now = cpu_seconds();
  } while (now - start < seconds);
  printf("floor %s %.2f\n", ta_alg_name(alg), (now - start) / (double)n * 1e6);
  return measure_bare(key, alg, seconds);
}

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  static const ta_alg_t algs[] = {
    TA_ALG_ED25519, TA_ALG_ECDSA_P256_SHA256, TA_ALG_RSA_PSS_SHA512, TA_ALG_RSA_V1_5_SHA256,
  };
  apr_pool_t *p;
  int rc = 0;
  if (seconds <= 0 || apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS)
    return 2;
  make_bases();
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
    rc |= measure(p, algs[i], seconds);
  apr_pool_destroy(p);
  apr_terminate();
  return rc;
}

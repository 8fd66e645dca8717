/* The cost floor of one authenticated request: a single signature
 * verification through the same ta_keys API the module uses, over a
 * signature base of typical size. Prints, per algorithm, the CPU time of one
 * ta_key_verify call (one core):
 *   floor ALG US_PER_VERIFY
 * Usage: verify_floor [SECONDS_PER_ALG]   (default 1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_keys.h"

/* Shaped like the profile's signature base (RFC 9421 section 2.5). */
static const char base[] =
  "\"@method\": GET\n"
  "\"@target-uri\": http://127.0.0.1:8080/protected\n"
  "\"trustedapp-user\": bench-user\n"
  "\"@signature-params\": (\"@method\" \"@target-uri\" \"trustedapp-user\");created=1764140000;"
  "expires=1764143600;nonce=\"0123456789abcdefghijklmnopqrstuvwx\";keyid=\"bench-ed25519\"";

static double cpu_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int measure(apr_pool_t *p, ta_alg_t alg, double seconds)
{
  ta_key_t *key;
  const char *err = NULL;
  unsigned char *sig;
  size_t sig_len;
  if (ta_key_generate(p, alg, 2048, &key, &err) != TA_OK) {
    fprintf(stderr, "verify_floor: cannot generate %s key: %s\n", ta_alg_name(alg), err ? err : "?");
    return 1;
  }
  if (ta_key_sign(p, key, (const unsigned char *)base, sizeof(base) - 1, &sig, &sig_len) != TA_OK) {
    fprintf(stderr, "verify_floor: cannot sign with %s\n", ta_alg_name(alg));
    return 1;
  }
  /* warm up, and prove the measured path is the accepting one */
  for (int i = 0; i < 20; i++)
    if (ta_key_verify(key, (const unsigned char *)base, sizeof(base) - 1, sig, sig_len) != TA_OK) {
      fprintf(stderr, "verify_floor: %s signature does not verify\n", ta_alg_name(alg));
      return 1;
    }
  long n = 0;
  double start = cpu_seconds(), now;
  do {
    for (int i = 0; i < 50; i++)
      if (ta_key_verify(key, (const unsigned char *)base, sizeof(base) - 1, sig, sig_len) != TA_OK)
        return 1;
    n += 50;
    now = cpu_seconds();
  } while (now - start < seconds);
  printf("floor %s %.2f\n", ta_alg_name(alg), (now - start) / (double)n * 1e6);
  return 0;
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
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
    rc |= measure(p, algs[i], seconds);
  apr_pool_destroy(p);
  apr_terminate();
  return rc;
}

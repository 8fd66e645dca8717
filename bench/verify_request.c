/* The library's share of an authenticated request, in process: CPU time of
 * one ta_verify_request (the policy engine the module calls: SF parsing,
 * signature base, registry lookup, clock/IP/path/user policy, and the
 * signature verification) against one ta_key_verify over the same base.
 * Requests are pre-signed with distinct nonces and look like what wrk sends
 * to the module (Host, User-Agent, Accept, TrustedApp-User, the two
 * signature fields). Rounds interleave the two measurements; medians.
 *   request ALG VERIFY_REQUEST_US KEY_VERIFY_US OVERHEAD_US
 * Usage: verify_request [ROUNDS [REQUESTS]] [APPS] (defaults 5 2000 10) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_registry.h"
#include "ta_verify.h"

#define NOW_SEC INT64_C(1764140000)
#define MAX_ROUNDS 31

static double cpu_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static ta_msg_t *make_request(apr_pool_t *p)
{
  ta_msg_t *m = ta_msg_make(p);
  m->method = "GET";
  m->scheme = "http";
  m->authority = "127.0.0.1:8080";
  m->path = "/protected";
  ta_msg_add_field(m, "Host", "127.0.0.1:8080");
  ta_msg_add_field(m, "User-Agent", "wrk");
  ta_msg_add_field(m, "Accept", "*/*");
  ta_msg_add_field(m, "TrustedApp-User", "bench-user");
  return m;
}

/* A registry of n_apps applications; the measured one is "bench" (the last). */
static const ta_registry_t *make_registry(apr_pool_t *p, const ta_key_t *key, size_t n_apps)
{
  const char *pem = ta_key_public_pem(p, key);
  const char *alg = ta_alg_name(ta_key_alg(key));
  char *xml = apr_pstrcat(p, "<?xml version=\"1.0\"?>\n<registry xmlns=\"urn:mod-trustedapp:registry:1\" "
                          "version=\"1\">\n", NULL);
  apr_array_header_t *chunks = apr_array_make(p, (int)n_apps + 2, sizeof(char *));
  *(char **)apr_array_push(chunks) = xml;
  for (size_t i = 0; i + 1 < n_apps; i++)
    *(char **)apr_array_push(chunks) =
      apr_psprintf(p, "<application id=\"other-%" APR_SIZE_T_FMT "\">\n<key alg=\"%s\">%s</key>\n<ip>10.0.0.0/8</ip>\n"
                   "<path>/protected</path>\n</application>\n", i, alg, pem);
  *(char **)apr_array_push(chunks) =
    apr_psprintf(p, "<application id=\"bench\">\n<key alg=\"%s\">%s</key>\n<timeout>3600000</timeout>\n"
                 "<ip>127.0.0.0/8</ip>\n<ip>::1</ip>\n<path>/protected</path>\n</application>\n"
                 "</registry>\n", alg, pem);
  char *all = apr_array_pstrcat(p, chunks, 0);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  if (ta_registry_parse(p, all, strlen(all), "bench.xml", &r, &err) != TA_OK) {
    fprintf(stderr, "verify_request: registry: %s\n", err ? err : "?");
    return NULL;
  }
  return r;
}

static int measure(apr_pool_t *p, ta_alg_t alg, int rounds, int n_req, size_t n_apps)
{
  ta_key_t *key;
  const char *err = NULL;
  if (ta_key_generate(p, alg, 2048, &key, &err) != TA_OK) {
    fprintf(stderr, "verify_request: keygen %s: %s\n", ta_alg_name(alg), err ? err : "?");
    return 1;
  }
  const ta_registry_t *reg = make_registry(p, key, n_apps);
  if (reg == NULL)
    return 1;
  static const char *const components[] = {"@method", "@target-uri", "trustedapp-user"};
  ta_msg_t **msgs = apr_palloc(p, sizeof(*msgs) * (size_t)n_req);
  const char **bases = apr_palloc(p, sizeof(*bases) * (size_t)n_req);
  size_t *base_lens = apr_palloc(p, sizeof(*base_lens) * (size_t)n_req);
  const unsigned char **sigs = apr_palloc(p, sizeof(*sigs) * (size_t)n_req);
  size_t *sig_lens = apr_palloc(p, sizeof(*sig_lens) * (size_t)n_req);
  for (int i = 0; i < n_req; i++) {
    ta_httpsig_sign_params_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.label = "ta";
    sp.components = components;
    sp.n_components = 3;
    sp.created = NOW_SEC;
    sp.expires = -1;
    sp.keyid = "bench";
    sp.nonce = apr_psprintf(p, "n%08d-0123456789abcdefghijklmn", i);
    msgs[i] = make_request(p);
    if (ta_httpsig_sign(p, msgs[i], &sp, key, 1, NULL, NULL, &bases[i], &base_lens[i]) != TA_OK) {
      fprintf(stderr, "verify_request: cannot sign\n");
      return 1;
    }
    ta_httpsig_t *parsed;
    if (ta_httpsig_parse(p, msgs[i], "ta", &parsed) != TA_OK)
      return 1;
    sigs[i] = parsed->sig;
    sig_lens[i] = parsed->sig_len;
  }
  ta_policy_t pol;
  ta_policy_init(&pol);
  ta_conn_t conn;
  memset(&conn, 0, sizeof(conn));
  conn.client_ip = "127.0.0.1";
  apr_pool_t *rp;
  apr_pool_create(&rp, p);
  double full[MAX_ROUNDS], floor_us[MAX_ROUNDS];
  for (int round = 0; round < rounds; round++) {
    double t0 = cpu_seconds();
    for (int i = 0; i < n_req; i++) {
      ta_verdict_t v;
      /* a request pool per request, like r->pool */
      if (ta_verify_request(rp, reg, &pol, msgs[i], &conn, apr_time_from_sec(NOW_SEC), &v) != TA_OK) {
        fprintf(stderr, "verify_request: %s refused: %s\n", ta_alg_name(alg), v.detail ? v.detail : "?");
        return 1;
      }
      apr_pool_clear(rp);
    }
    double t1 = cpu_seconds();
    for (int i = 0; i < n_req; i++)
      if (ta_key_verify(key, (const unsigned char *)bases[i], base_lens[i], sigs[i], sig_lens[i]) != TA_OK)
        return 1;
    double t2 = cpu_seconds();
    full[round] = (t1 - t0) / n_req * 1e6;
    floor_us[round] = (t2 - t1) / n_req * 1e6;
  }
  double diff[MAX_ROUNDS];
  for (int round = 0; round < rounds; round++)
    diff[round] = full[round] - floor_us[round];
  double d = median(diff, rounds);
  printf("request %s %.2f %.2f %.2f\n", ta_alg_name(alg), median(full, rounds), median(floor_us, rounds), d);
  return 0;
}

int main(int argc, char **argv)
{
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  int n_req = argc > 2 ? atoi(argv[2]) : 2000;
  long n_apps = argc > 3 ? atol(argv[3]) : 10;
  const char *only = getenv("VERIFY_REQUEST_ALG");
  static const ta_alg_t algs[] = {TA_ALG_ED25519, TA_ALG_ECDSA_P256_SHA256, TA_ALG_RSA_PSS_SHA512};
  apr_pool_t *p;
  int rc = 0;
  if (rounds < 1 || rounds > MAX_ROUNDS || n_req < 1 || n_apps < 1
      || apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS)
    return 2;
  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
    if (only == NULL || strcmp(only, ta_alg_name(algs[i])) == 0)
      rc |= measure(p, algs[i], rounds, n_req, (size_t)n_apps);
  apr_pool_destroy(p);
  apr_terminate();
  return rc;
}

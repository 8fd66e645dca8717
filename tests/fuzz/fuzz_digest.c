/* libFuzzer target: the Content-Digest field (RFC 9530) as it arrives from
 * the network, and the body check the module runs over it. The input is the
 * field value, a NUL byte, then the body (no NUL: the whole input is the
 * field and the body is empty).
 *
 * Invariants: a parsed field names a supported algorithm with a value of
 * exactly that algorithm's length; the incremental check (what the module
 * does, body in two pieces) agrees with the one-shot ta_digest_verify_body;
 * and the field that describes the body correctly always verifies it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_b64.h"
#include "ta_digest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
    abort();
  atexit(apr_terminate);
  return 0;
}

/* "alg=:base64:" describing body with this algorithm. */
static const char *true_field(apr_pool_t *p, ta_digest_alg_t alg, const char *body, size_t len)
{
  ta_digest_t *d = NULL;
  unsigned char md[TA_DIGEST_MAX_LEN];
  size_t md_len = 0;
  char *b64 = NULL;
  if (ta_digest_create(p, alg, &d) != TA_OK || ta_digest_update(d, body, len) != TA_OK
      || ta_digest_final(d, md, &md_len) != TA_OK)
    abort();
  b64 = ta_b64_encode(p, TA_B64_STD, md, md_len);
  if (!b64)
    abort();
  return apr_psprintf(p, "%s=:%s:", alg == TA_DIGEST_SHA512 ? "sha-512" : "sha-256", b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  apr_pool_t *p;
  const char *input = (const char *)data;
  const char *nul = memchr(input, '\0', size);
  size_t field_len = nul ? (size_t)(nul - input) : size;
  const char *body = nul ? nul + 1 : input + size;
  size_t body_len = nul ? size - field_len - 1 : 0;
  char *field;
  ta_digest_expect_t expect;
  ta_status_t parsed, incremental = TA_E_DIGEST_INVALID, oneshot;
  const char *good;

  if (apr_pool_create(&p, root) != APR_SUCCESS)
    abort();
  field = apr_pstrmemdup(p, input, field_len);

  memset(&expect, 0, sizeof expect);
  parsed = ta_digest_parse(p, field, field_len, &expect);
  if (parsed != TA_OK && parsed != TA_E_DIGEST_INVALID)
    abort();
  if (parsed == TA_OK) {
    ta_digest_t *d = NULL;
    size_t half = body_len / 2;
    if (expect.alg != TA_DIGEST_SHA256 && expect.alg != TA_DIGEST_SHA512)
      abort();
    if (expect.len != ta_digest_alg_len(expect.alg) || expect.value == NULL)
      abort();
    if (ta_digest_create(p, expect.alg, &d) != TA_OK || ta_digest_update(d, body, half) != TA_OK
        || ta_digest_update(d, body + half, body_len - half) != TA_OK)
      abort();
    incremental = ta_digest_check(&expect, d);
    if (incremental != TA_OK && incremental != TA_E_DIGEST_MISMATCH)
      abort();
  }
  oneshot = ta_digest_verify_body(p, field, field_len, body, body_len);
  if (oneshot != incremental)
    abort();

  /* The correct field for this body verifies it, with either algorithm. */
  good = true_field(p, TA_DIGEST_SHA256, body, body_len);
  if (ta_digest_verify_body(p, good, strlen(good), body, body_len) != TA_OK)
    abort();
  good = true_field(p, TA_DIGEST_SHA512, body, body_len);
  if (ta_digest_verify_body(p, good, strlen(good), body, body_len) != TA_OK)
    abort();
  apr_pool_destroy(p);
  return 0;
}

/* RFC 9530 Content-Digest over OpenSSL EVP and the SF dictionary parser. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <apr_strings.h>

#include "ta_b64.h"
#include "ta_digest.h"
#include "ta_sf.h"

struct ta_digest {
  ta_digest_alg_t alg;
  EVP_MD_CTX *ctx;
  int finished;
};

const char *ta_digest_alg_name(ta_digest_alg_t alg)
{
  switch (alg) {
  case TA_DIGEST_SHA256: return "sha-256";
  case TA_DIGEST_SHA512: return "sha-512";
  default: return NULL;
  }
}

ta_digest_alg_t ta_digest_alg_from_name(const char *name)
{
  if (name == NULL)
    return TA_DIGEST_NONE;
  if (strcmp(name, "sha-256") == 0)
    return TA_DIGEST_SHA256;
  if (strcmp(name, "sha-512") == 0)
    return TA_DIGEST_SHA512;
  return TA_DIGEST_NONE;
}

size_t ta_digest_alg_len(ta_digest_alg_t alg)
{
  switch (alg) {
  case TA_DIGEST_SHA256: return 32;
  case TA_DIGEST_SHA512: return 64;
  default: return 0;
  }
}

/* Fetched once per process: EVP_sha256() and friends make OpenSSL look the
 * implementation up again, under its store's lock, on every digest. */
static EVP_MD *sha256_md, *sha512_md;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
/* Each thread's context for ta_digest_once, freed when the thread ends:
 * EVP_Digest allocates and frees a context (twice malloc) per call. */
static pthread_key_t once_ctx_key;
static int once_ctx_key_ok;

static void free_once_ctx(void *ctx)
{
  EVP_MD_CTX_free(ctx);
}

static void fetch_digests(void)
{
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  sha512_md = EVP_MD_fetch(NULL, "SHA512", NULL);
  once_ctx_key_ok = pthread_key_create(&once_ctx_key, free_once_ctx) == 0;
}

/* This thread's context, made on first use; NULL when that fails. */
static EVP_MD_CTX *once_ctx(void)
{
  EVP_MD_CTX *ctx;
  if (!once_ctx_key_ok)
    return NULL;
  ctx = pthread_getspecific(once_ctx_key);
  if (ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(once_ctx_key, ctx) != 0) {
    EVP_MD_CTX_free(ctx);
    ctx = NULL;
  }
  return ctx;
}

static const EVP_MD *evp_md_of(ta_digest_alg_t alg)
{
  pthread_once(&fetch_once, fetch_digests);
  switch (alg) {
  case TA_DIGEST_SHA256: return sha256_md;
  case TA_DIGEST_SHA512: return sha512_md;
  default: return NULL;
  }
}

ta_status_t ta_digest_once(ta_digest_alg_t alg, const void *data, size_t len,
                           unsigned char *out, size_t *out_len)
{
  const EVP_MD *md = evp_md_of(alg);
  unsigned int n = 0;
  if (md == NULL)
    return TA_E_DIGEST_INVALID;
  EVP_MD_CTX *ctx = once_ctx();
  int ok = ctx != NULL ? EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1
                             && EVP_DigestFinal_ex(ctx, out, &n) == 1
                       : EVP_Digest(data, len, out, &n, md, NULL) == 1;
  if (!ok || n != ta_digest_alg_len(alg))
    return TA_E_INTERNAL;
  *out_len = n;
  return TA_OK;
}

static apr_status_t digest_cleanup(void *data)
{
  ta_digest_t *d = data;
  EVP_MD_CTX_free(d->ctx);
  d->ctx = NULL;
  return APR_SUCCESS;
}

ta_status_t ta_digest_create(apr_pool_t *p, ta_digest_alg_t alg, ta_digest_t **out)
{
  const EVP_MD *md = evp_md_of(alg);
  if (md == NULL)
    return TA_E_DIGEST_INVALID;
  ta_digest_t *d = apr_pcalloc(p, sizeof(*d));
  d->alg = alg;
  d->ctx = EVP_MD_CTX_new();
  if (d->ctx == NULL)
    return TA_E_NOMEM;
  apr_pool_cleanup_register(p, d, digest_cleanup, apr_pool_cleanup_null);
  if (EVP_DigestInit_ex(d->ctx, md, NULL) != 1)
    return TA_E_INTERNAL;
  *out = d;
  return TA_OK;
}

ta_digest_alg_t ta_digest_get_alg(const ta_digest_t *d)
{
  return d ? d->alg : TA_DIGEST_NONE;
}

ta_status_t ta_digest_update(ta_digest_t *d, const void *data, size_t len)
{
  if (d == NULL || d->finished || d->ctx == NULL)
    return TA_E_INTERNAL;
  if (len == 0)
    return TA_OK;
  return EVP_DigestUpdate(d->ctx, data, len) == 1 ? TA_OK : TA_E_INTERNAL;
}

ta_status_t ta_digest_final(ta_digest_t *d, unsigned char *out, size_t *out_len)
{
  unsigned int n = 0;
  if (d == NULL || d->finished || d->ctx == NULL)
    return TA_E_INTERNAL;
  d->finished = 1;
  if (EVP_DigestFinal_ex(d->ctx, out, &n) != 1 || n != ta_digest_alg_len(d->alg))
    return TA_E_INTERNAL;
  *out_len = n;
  return TA_OK;
}

ta_status_t ta_digest_parse(apr_pool_t *p, const char *field, size_t len,
                            ta_digest_expect_t *out)
{
  ta_sf_dict_t dict;
  ta_digest_alg_t best = TA_DIGEST_NONE;
  const ta_sf_member_t *best_member = NULL;

  if (field == NULL || len > TA_DIGEST_MAX_FIELD)
    return TA_E_DIGEST_INVALID;
  if (ta_sf_parse_dict(p, field, len, &dict) != TA_OK)
    return TA_E_DIGEST_INVALID;
  for (size_t i = 0; i < dict.n; i++) {
    ta_digest_alg_t alg = ta_digest_alg_from_name(dict.keys[i]);
    if (alg == TA_DIGEST_NONE)
      continue;   /* RFC 9530: unknown algorithms are ignored */
    const ta_sf_member_t *m = &dict.members[i];
    /* A supported algorithm with a malformed value taints the field rather
     * than being skipped: otherwise a weaker entry could be preferred. */
    if (m->is_inner_list || m->item.bare.type != TA_SF_BYTES
        || m->item.bare.v.str.len != ta_digest_alg_len(alg))
      return TA_E_DIGEST_INVALID;
    if (alg > best) {
      best = alg;
      best_member = m;
    }
  }
  if (best_member == NULL)
    return TA_E_DIGEST_INVALID;
  out->alg = best;
  out->value = (const unsigned char *)best_member->item.bare.v.str.ptr;
  out->len = best_member->item.bare.v.str.len;
  return TA_OK;
}

ta_status_t ta_digest_check(const ta_digest_expect_t *e, ta_digest_t *d)
{
  unsigned char got[TA_DIGEST_MAX_LEN];
  size_t got_len = 0;
  if (e == NULL || d == NULL || e->alg != d->alg || e->len != ta_digest_alg_len(e->alg))
    return TA_E_INTERNAL;
  ta_status_t st = ta_digest_final(d, got, &got_len);
  if (st != TA_OK)
    return st;
  if (got_len != e->len || CRYPTO_memcmp(got, e->value, got_len) != 0)
    return TA_E_DIGEST_MISMATCH;
  return TA_OK;
}

ta_status_t ta_digest_verify_body(apr_pool_t *p, const char *field, size_t field_len,
                                  const void *body, size_t body_len)
{
  ta_digest_expect_t e;
  ta_digest_t *d;
  ta_status_t st = ta_digest_parse(p, field, field_len, &e);
  if (st != TA_OK)
    return st;
  if ((st = ta_digest_create(p, e.alg, &d)) != TA_OK)
    return st;
  if ((st = ta_digest_update(d, body, body_len)) != TA_OK)
    return st;
  return ta_digest_check(&e, d);
}

char *ta_digest_field_value_final(apr_pool_t *p, ta_digest_t *d)
{
  unsigned char md[TA_DIGEST_MAX_LEN];
  size_t n = 0;
  if (ta_digest_final(d, md, &n) != TA_OK)
    return NULL;
  char *b64 = ta_b64_encode(p, TA_B64_STD, md, n);
  if (b64 == NULL)
    return NULL;
  return apr_pstrcat(p, ta_digest_alg_name(d->alg), "=:", b64, ":", NULL);
}

char *ta_digest_field_value(apr_pool_t *p, ta_digest_alg_t alg,
                            const void *body, size_t len)
{
  ta_digest_t *d;
  if (ta_digest_create(p, alg, &d) != TA_OK || ta_digest_update(d, body, len) != TA_OK)
    return NULL;
  return ta_digest_field_value_final(p, d);
}

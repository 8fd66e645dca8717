/* RFC 9530 Content-Digest: incremental hashing of a body, strict parsing
 * of the field (an RFC 8941 dictionary of byte sequences) and a constant
 * time comparison. Supported: sha-256 and sha-512; other algorithms in the
 * field are ignored, and the strongest supported one present is checked. */
#ifndef TA_DIGEST_H
#define TA_DIGEST_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

#define TA_DIGEST_FIELD "Content-Digest"
#define TA_DIGEST_MAX_LEN 64           /* bytes of the largest digest */
#define TA_DIGEST_MAX_FIELD (8 * 1024) /* longest Content-Digest value accepted */

typedef enum {
  TA_DIGEST_NONE = 0,
  TA_DIGEST_SHA256,   /* "sha-256", 32 bytes */
  TA_DIGEST_SHA512    /* "sha-512", 64 bytes (stronger) */
} ta_digest_alg_t;

/* "sha-256" / "sha-512"; NULL for anything else. */
const char *ta_digest_alg_name(ta_digest_alg_t alg);
/* TA_DIGEST_NONE when not supported (names are case-sensitive, RFC 9530 keys are lower case). */
ta_digest_alg_t ta_digest_alg_from_name(const char *name);
/* Digest length in bytes, 0 for TA_DIGEST_NONE. */
size_t ta_digest_alg_len(ta_digest_alg_t alg);

/* One-shot digest of data into out (room for ta_digest_alg_len(alg)
 * bytes): TA_OK, TA_E_DIGEST_INVALID for an unsupported algorithm,
 * TA_E_INTERNAL. Runs in a context each thread keeps, whose state outlives
 * the call: not for secrets. */
ta_status_t ta_digest_once(ta_digest_alg_t alg, const void *data, size_t len,
                           unsigned char *out, size_t *out_len);

/* Incremental hasher; the EVP context is freed by a cleanup on p. */
typedef struct ta_digest ta_digest_t;
ta_status_t ta_digest_create(apr_pool_t *p, ta_digest_alg_t alg, ta_digest_t **out);
ta_digest_alg_t ta_digest_get_alg(const ta_digest_t *d);
/* TA_OK, or TA_E_INTERNAL (also after final). */
ta_status_t ta_digest_update(ta_digest_t *d, const void *data, size_t len);
/* Writes ta_digest_alg_len() bytes into out (room for TA_DIGEST_MAX_LEN);
 * the hasher cannot be updated afterwards. */
ta_status_t ta_digest_final(ta_digest_t *d, unsigned char *out, size_t *out_len);

/* The expected digest chosen from a Content-Digest field. */
typedef struct {
  ta_digest_alg_t alg;
  const unsigned char *value;  /* pool memory, ta_digest_alg_len(alg) bytes */
  size_t len;
} ta_digest_expect_t;

/* Parse a Content-Digest value and pick the strongest supported algorithm.
 * TA_OK, or TA_E_DIGEST_INVALID: not a valid SF dictionary, over
 * TA_DIGEST_MAX_FIELD, no supported algorithm, or a supported algorithm
 * whose value is not a byte sequence of the right length. */
ta_status_t ta_digest_parse(apr_pool_t *p, const char *field, size_t len,
                            ta_digest_expect_t *out);
/* Finalize d (which must use e->alg, else TA_E_INTERNAL) and compare in
 * constant time: TA_OK or TA_E_DIGEST_MISMATCH. */
ta_status_t ta_digest_check(const ta_digest_expect_t *e, ta_digest_t *d);
/* One shot: parse the field, hash the body, compare. TA_OK,
 * TA_E_DIGEST_INVALID or TA_E_DIGEST_MISMATCH. */
ta_status_t ta_digest_verify_body(apr_pool_t *p, const char *field, size_t field_len,
                                  const void *body, size_t body_len);

/* Content-Digest value for a body, e.g. "sha-512=:...:" (signer side);
 * NULL for TA_DIGEST_NONE. */
char *ta_digest_field_value(apr_pool_t *p, ta_digest_alg_t alg,
                            const void *body, size_t len);
/* Same from a hasher fed incrementally (finalizes it); NULL on failure. */
char *ta_digest_field_value_final(apr_pool_t *p, ta_digest_t *d);

#endif

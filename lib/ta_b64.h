/* Strict base64 (RFC 4648): standard and URL-safe alphabets. Decoding
 * refuses characters outside the alphabet, whitespace, wrong or missing
 * padding (per variant) and non-canonical trailing bits, so one byte
 * string has exactly one accepted text form. Inputs are bounded. */
#ifndef TA_B64_H
#define TA_B64_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

/* Longest text accepted by the decoders (bytes of base64 text). */
#define TA_B64_MAX_INPUT (1024 * 1024)

typedef enum {
  TA_B64_STD,        /* "+/", '=' padding required (length a multiple of 4) */
  TA_B64_STD_NOPAD,  /* "+/", no '=' allowed (fingerprints) */
  TA_B64_URL         /* "-_", no '=' allowed (JWK, RFC 7515 section 2) */
} ta_b64_variant_t;

/* NUL-terminated encoding from the pool; NULL only for len > TA_B64_MAX_INPUT/4*3. */
char *ta_b64_encode(apr_pool_t *p, ta_b64_variant_t v,
                    const unsigned char *data, size_t len);

/* Decode len bytes of text. *out is pool memory (NUL-terminated for
 * convenience, not counted in *out_len). Returns TA_OK, TA_E_TOO_LARGE
 * (len > TA_B64_MAX_INPUT) or TA_E_PARAM_INVALID (not canonical base64 of
 * this variant); callers map the failure to their own context's code. */
ta_status_t ta_b64_decode(apr_pool_t *p, ta_b64_variant_t v,
                          const char *in, size_t len,
                          unsigned char **out, size_t *out_len);

#endif

/* JWK (RFC 7517/7518/8037) to EVP_PKEY, internal to the keys component. */
#ifndef TA_KEYS_JWK_H
#define TA_KEYS_JWK_H

#include <stddef.h>
#include <apr_pools.h>
#include <openssl/evp.h>

#include "ta_error.h"
#include "ta_keys.h"

/* Parse one JWK object. want_private = 0: public members only, and a JWK
 * carrying private members is refused (private keys never end up in a
 * registry); want_private = 1: the private members are required.
 * *jwk_alg is the algorithm named by the JWK's "alg" member, TA_ALG_NONE
 * when absent. *reason is a static string on failure. Scratch memory is a
 * subpool of p, destroyed before returning. */
ta_status_t ta_jwk_to_pkey(apr_pool_t *p, const char *json, size_t len, int want_private,
                           EVP_PKEY **out, ta_alg_t *jwk_alg, const char **reason);

#endif

/* Keys and signature algorithms (RFC 9421 section 3.3) over OpenSSL 3 EVP.
 * Keys are parsed once into ta_key_t objects owned by a pool (EVP objects
 * are freed by a pool cleanup) and are then safe to share between threads
 * for verification. The registered key's algorithm decides; callers never
 * pick an algorithm from the wire. */
#ifndef TA_KEYS_H
#define TA_KEYS_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

typedef enum {
  TA_ALG_NONE = 0,
  TA_ALG_ED25519,            /* "ed25519" */
  TA_ALG_ECDSA_P256_SHA256,  /* "ecdsa-p256-sha256", raw r||s (64 bytes) */
  TA_ALG_ECDSA_P384_SHA384,  /* "ecdsa-p384-sha384", raw r||s (96 bytes) */
  TA_ALG_RSA_PSS_SHA512,     /* "rsa-pss-sha512", MGF1-SHA512, salt 64 */
  TA_ALG_RSA_V1_5_SHA256,    /* "rsa-v1_5-sha256" */
  TA_ALG_HMAC_SHA256         /* "hmac-sha256": test vectors only, never for registered apps */
} ta_alg_t;

#define TA_RSA_MIN_BITS 2048
#define TA_RSA_MAX_BITS 16384          /* bounds verification cost */
#define TA_KEY_MAX_INPUT (64 * 1024)   /* longest PEM/DER/JWK accepted */

typedef struct ta_key ta_key_t;

/* RFC 9421 registry name, or NULL for TA_ALG_NONE/unknown. */
const char *ta_alg_name(ta_alg_t alg);
/* TA_ALG_NONE when the name is not one of ours. */
ta_alg_t ta_alg_from_name(const char *name);

/* Public key from PEM (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY"), DER
 * SPKI, or a JWK JSON object. Input carrying private key material (a
 * private PEM block, JWK "d") is refused so it never lands in a registry. alg may be TA_ALG_NONE to infer from the key
 * (ed25519, P-256, P-384; an RSA key then needs an explicit alg, or a JWK
 * "alg"). A key that cannot serve alg is refused. *err (may be NULL) gets
 * a human-readable reason. Returns TA_OK or TA_E_KEY_INVALID. */
ta_status_t ta_key_load_public(apr_pool_t *p, const char *data, size_t len,
                               ta_alg_t alg, ta_key_t **out, const char **err);
/* Private key from PEM (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE
 * KEY", PKCS#8 rsassaPss; a public block beside it is ignored) or a JWK with
 * its private members, for signing (tool, tests). Same alg rule. Keys whose
 * private and public parts disagree are refused (sign/verify self-test). */
ta_status_t ta_key_load_private(apr_pool_t *p, const char *data, size_t len,
                                ta_alg_t alg, ta_key_t **out, const char **err);
/* HMAC-SHA256 shared secret (test vectors only). */
ta_status_t ta_key_hmac(apr_pool_t *p, const unsigned char *secret, size_t len,
                        ta_key_t **out);
/* Fresh key pair: ed25519, ecdsa p256/p384, rsa (bits >= 2048) for either RSA alg. */
ta_status_t ta_key_generate(apr_pool_t *p, ta_alg_t alg, int rsa_bits,
                            ta_key_t **out, const char **err);

ta_alg_t ta_key_alg(const ta_key_t *k);
int ta_key_bits(const ta_key_t *k);
int ta_key_is_private(const ta_key_t *k);

/* Exact signature length in bytes the key's algorithm produces and accepts
 * (ed25519 64, P-256 64, P-384 96, RSA modulus bytes, HMAC 32). */
size_t ta_key_sig_len(const ta_key_t *k);

/* Sign data with the key's algorithm (ECDSA output is raw r||s). */
ta_status_t ta_key_sign(apr_pool_t *p, const ta_key_t *k,
                        const unsigned char *data, size_t len,
                        unsigned char **sig, size_t *sig_len);
/* TA_OK, TA_E_BAD_SIGNATURE, or TA_E_SIG_ENCODING (wrong length for the
 * algorithm). HMAC compares in constant time. Never logs. */
ta_status_t ta_key_verify(const ta_key_t *k,
                          const unsigned char *data, size_t len,
                          const unsigned char *sig, size_t sig_len);

/* SPKI PEM of the public half (for the registry and certificate documents).
 * A private rsassaPss key (RFC 9421's test-key-rsa-pss) publishes the
 * rsaEncryption SPKI of the same n, e, like the RFC's own public key. */
char *ta_key_public_pem(apr_pool_t *p, const ta_key_t *k);
/* PKCS#8 PEM of a private key (keygen); NULL for public keys. */
char *ta_key_private_pem(apr_pool_t *p, const ta_key_t *k);
/* "SHA256:" + unpadded base64 of the SHA-256 of the SPKI DER. */
char *ta_key_fingerprint(apr_pool_t *p, const ta_key_t *k);

/* The underlying EVP_PKEY (as void* to keep OpenSSL headers out), for the
 * Seraph codec's raw RSA operations. NULL for HMAC keys. */
void *ta_key_evp_pkey(const ta_key_t *k);

#endif

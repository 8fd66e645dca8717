/* RC4 (ARC4) stream cipher, implemented here rather than through OpenSSL:
 * OpenSSL 3 only offers RC4 from its "legacy" provider, and loading that
 * provider into httpd would make every legacy algorithm (MD4, DES, RC2, ...)
 * fetchable by any code in the process. The legacy Seraph protocol is the
 * only user; see docs/SERAPH.md. Never use RC4 for anything new. */
#ifndef TA_RC4_H
#define TA_RC4_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t s[256];
  uint8_t i, j;
} ta_rc4_t;

/* key_len 1..256 bytes (longer keys are truncated to 256, as in the spec's
 * key schedule which only reads key[i mod key_len]). */
void ta_rc4_init(ta_rc4_t *st, const unsigned char *key, size_t key_len);
/* Encrypt or decrypt (the same operation); in and out may alias. */
void ta_rc4_crypt(ta_rc4_t *st, const unsigned char *in, unsigned char *out, size_t len);
/* Skip n keystream bytes (test vectors at offsets). */
void ta_rc4_skip(ta_rc4_t *st, size_t n);
/* Clear the state (key material). */
void ta_rc4_wipe(ta_rc4_t *st);

#endif

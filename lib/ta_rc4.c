/* RC4 key schedule and keystream as published (Schneier, "Applied
 * Cryptography"; test vectors RFC 6229). Why it lives here: ta_rc4.h. */
#include "ta_rc4.h"

#include <openssl/crypto.h>

void ta_rc4_init(ta_rc4_t *st, const unsigned char *key, size_t key_len)
{
  size_t n = key_len > 256 ? 256 : key_len;
  for (int k = 0; k < 256; k++)
    st->s[k] = (uint8_t)k;
  uint8_t j = 0;
  for (int k = 0; k < 256; k++) {
    uint8_t t = st->s[k];
    j = (uint8_t)(j + t + (n ? key[(size_t)k % n] : 0));
    st->s[k] = st->s[j];
    st->s[j] = t;
  }
  st->i = 0;
  st->j = 0;
}

static uint8_t rc4_next(ta_rc4_t *st)
{
  st->i = (uint8_t)(st->i + 1);
  uint8_t si = st->s[st->i];
  st->j = (uint8_t)(st->j + si);
  uint8_t sj = st->s[st->j];
  st->s[st->i] = sj;
  st->s[st->j] = si;
  return st->s[(uint8_t)(si + sj)];
}

void ta_rc4_crypt(ta_rc4_t *st, const unsigned char *in, unsigned char *out, size_t len)
{
  for (size_t k = 0; k < len; k++)
    out[k] = (unsigned char)(in[k] ^ rc4_next(st));
}

void ta_rc4_skip(ta_rc4_t *st, size_t n)
{
  while (n--)
    (void)rc4_next(st);
}

void ta_rc4_wipe(ta_rc4_t *st)
{
  OPENSSL_cleanse(st, sizeof(*st));
}

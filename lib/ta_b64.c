/* Strict RFC 4648 base64, both alphabets, no whitespace tolerance. */
#include <string.h>

#include "ta_b64.h"

static const char std_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *ta_b64_encode(apr_pool_t *p, ta_b64_variant_t v,
                    const unsigned char *data, size_t len)
{
  const char *alphabet = v == TA_B64_URL ? url_alphabet : std_alphabet;
  int pad = v == TA_B64_STD;
  if (len > TA_B64_MAX_INPUT / 4 * 3)
    return NULL;
  char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
  char *o = out;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    unsigned long w = ((unsigned long)data[i] << 16) | ((unsigned long)data[i + 1] << 8) | data[i + 2];
    *o++ = alphabet[(w >> 18) & 63];
    *o++ = alphabet[(w >> 12) & 63];
    *o++ = alphabet[(w >> 6) & 63];
    *o++ = alphabet[w & 63];
  }
  if (len - i == 1) {
    unsigned long w = (unsigned long)data[i] << 16;
    *o++ = alphabet[(w >> 18) & 63];
    *o++ = alphabet[(w >> 12) & 63];
    if (pad) {
      *o++ = '=';
      *o++ = '=';
    }
  } else if (len - i == 2) {
    unsigned long w = ((unsigned long)data[i] << 16) | ((unsigned long)data[i + 1] << 8);
    *o++ = alphabet[(w >> 18) & 63];
    *o++ = alphabet[(w >> 12) & 63];
    *o++ = alphabet[(w >> 6) & 63];
    if (pad)
      *o++ = '=';
  }
  *o = '\0';
  return out;
}

/* Sextet value of c in the variant's alphabet, -1 if c is not in it. */
static int sextet(ta_b64_variant_t v, unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (v == TA_B64_URL) {
    if (c == '-')
      return 62;
    if (c == '_')
      return 63;
  } else {
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
  }
  return -1;
}

ta_status_t ta_b64_decode(apr_pool_t *p, ta_b64_variant_t v,
                          const char *in, size_t len,
                          unsigned char **out, size_t *out_len)
{
  if (len > TA_B64_MAX_INPUT)
    return TA_E_TOO_LARGE;
  if (in == NULL && len > 0)
    return TA_E_PARAM_INVALID;

  size_t data_len = len;
  if (v == TA_B64_STD) {
    if (len % 4 != 0)
      return TA_E_PARAM_INVALID;
    if (data_len > 0 && in[data_len - 1] == '=')
      data_len--;
    if (data_len > 0 && in[data_len - 1] == '=')
      data_len--;
  }
  /* A lone trailing sextet cannot encode a whole byte. */
  if (data_len % 4 == 1)
    return TA_E_PARAM_INVALID;
  if (v == TA_B64_STD && (len - data_len) != (4 - data_len % 4) % 4)
    return TA_E_PARAM_INVALID;

  unsigned char *buf = apr_palloc(p, data_len / 4 * 3 + 3);
  size_t n = 0;
  unsigned long acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data_len; i++) {
    int s = sextet(v, (unsigned char)in[i]);
    if (s < 0)
      return TA_E_PARAM_INVALID;
    acc = (acc << 6) | (unsigned long)s;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[n++] = (unsigned char)((acc >> bits) & 0xff);
    }
  }
  /* Leftover bits must be zero: otherwise two texts would decode alike. */
  if (bits > 0 && (acc & ((1ul << bits) - 1)) != 0)
    return TA_E_PARAM_INVALID;
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return TA_OK;
}

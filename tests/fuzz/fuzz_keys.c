/* libFuzzer target: the key loaders over arbitrary bytes (PEM, DER SPKI,
 * JWK, private PEM), then every accessor of a key that loaded. The first
 * byte picks the loader and the requested algorithm. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_b64.h"
#include "ta_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static apr_pool_t *root;
  apr_pool_t *p;
  if (root == NULL) {
    apr_initialize();
    apr_pool_create(&root, NULL);
  }
  if (size < 1)
    return 0;
  apr_pool_create(&p, root);
  uint8_t mode = data[0];
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  ta_alg_t alg = (ta_alg_t)((mode >> 1) % 7);
  ta_key_t *k = NULL;
  const char *err = NULL;
  ta_status_t st = (mode & 1) ? ta_key_load_private(p, in, len, alg, &k, &err)
                              : ta_key_load_public(p, in, len, alg, &k, &err);
  if (st == TA_OK) {
    static const unsigned char msg[] = "fuzz";
    unsigned char sig[2048] = { 0 };
    size_t sig_len = ta_key_sig_len(k);
    (void)ta_key_fingerprint(p, k);
    (void)ta_key_public_pem(p, k);
    if (sig_len <= sizeof(sig))
      (void)ta_key_verify(k, msg, sizeof(msg) - 1, sig, sig_len);
    if (ta_key_is_private(k) && ta_key_bits(k) <= 4096) {
      unsigned char *s;
      size_t n;
      if (ta_key_sign(p, k, msg, sizeof(msg) - 1, &s, &n) == TA_OK
          && ta_key_verify(k, msg, sizeof(msg) - 1, s, n) != TA_OK)
        __builtin_trap();   /* a key must verify its own signature */
    }
  } else if (st != TA_E_KEY_INVALID && st != TA_E_NOMEM) {
    __builtin_trap();
  }
  /* The strict base64 decoder: decode, re-encode, must be identical. */
  for (int v = TA_B64_STD; v <= TA_B64_URL; v++) {
    unsigned char *out;
    size_t n;
    if (ta_b64_decode(p, (ta_b64_variant_t)v, in, len, &out, &n) == TA_OK) {
      const char *again = ta_b64_encode(p, (ta_b64_variant_t)v, out, n);
      if (again == NULL || strlen(again) != len || memcmp(again, in, len) != 0)
        __builtin_trap();
    }
  }
  apr_pool_destroy(p);
  return 0;
}

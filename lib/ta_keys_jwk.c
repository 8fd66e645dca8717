/* Strict JWK public key import: kty OKP (Ed25519), EC (P-256, P-384) and
 * RSA, members base64url without padding, built with EVP_PKEY_fromdata. */
#include <string.h>

#include <jansson.h>
#include <apr_pools.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "ta_b64.h"
#include "ta_keys_jwk.h"

/* Largest member we decode: an RSA modulus of TA_RSA_MAX_BITS. */
#define JWK_MAX_MEMBER_BYTES (TA_RSA_MAX_BITS / 8)

/* JWS algorithm names (RFC 7518, RFC 8037) and our RFC 9421 names. */
static ta_alg_t alg_from_jwk(const char *name)
{
  static const struct { const char *jws; ta_alg_t alg; } map[] = {
    { "EdDSA", TA_ALG_ED25519 },
    { "Ed25519", TA_ALG_ED25519 },
    { "ES256", TA_ALG_ECDSA_P256_SHA256 },
    { "ES384", TA_ALG_ECDSA_P384_SHA384 },
    { "PS512", TA_ALG_RSA_PSS_SHA512 },
    { "RS256", TA_ALG_RSA_V1_5_SHA256 },
  };
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (strcmp(map[i].jws, name) == 0)
      return map[i].alg;
  ta_alg_t alg = ta_alg_from_name(name);
  return alg == TA_ALG_HMAC_SHA256 ? TA_ALG_NONE : alg;
}

/* Decode a required base64url member into buf (at most cap bytes). */
static int member_bytes(json_t *jwk, const char *name, unsigned char *buf,
                        size_t cap, size_t *len, apr_pool_t *scratch)
{
  json_t *v = json_object_get(jwk, name);
  unsigned char *dec;
  size_t n;
  if (!json_is_string(v))
    return 0;
  if (ta_b64_decode(scratch, TA_B64_URL, json_string_value(v),
                    json_string_length(v), &dec, &n) != TA_OK || n == 0 || n > cap)
    return 0;
  memcpy(buf, dec, n);
  *len = n;
  return 1;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static ta_status_t okp_key(json_t *jwk, apr_pool_t *scratch, EVP_PKEY **out, const char **reason)
{
  unsigned char x[32];
  size_t xlen = 0;
  json_t *crv = json_object_get(jwk, "crv");
  if (!json_is_string(crv) || strcmp(json_string_value(crv), "Ed25519") != 0) {
    *reason = "JWK kty OKP: only crv Ed25519 is supported";
    return TA_E_KEY_INVALID;
  }
  if (!member_bytes(jwk, "x", x, sizeof(x), &xlen, scratch) || xlen != sizeof(x)) {
    *reason = "JWK Ed25519: x must be 32 bytes of base64url";
    return TA_E_KEY_INVALID;
  }
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  if (bld == NULL)
    return TA_E_NOMEM;
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, xlen);
  *out = pkey_fromdata("ED25519", bld);
  OSSL_PARAM_BLD_free(bld);
  if (*out == NULL) {
    *reason = "JWK Ed25519: key rejected by OpenSSL";
    return TA_E_KEY_INVALID;
  }
  return TA_OK;
}

static ta_status_t ec_key(json_t *jwk, apr_pool_t *scratch, EVP_PKEY **out, const char **reason)
{
  unsigned char point[1 + 2 * 48];
  size_t xlen = 0, ylen = 0, field;
  const char *group;
  json_t *crv = json_object_get(jwk, "crv");
  const char *c = json_is_string(crv) ? json_string_value(crv) : "";
  if (strcmp(c, "P-256") == 0) {
    field = 32;
    group = SN_X9_62_prime256v1;
  } else if (strcmp(c, "P-384") == 0) {
    field = 48;
    group = SN_secp384r1;
  } else {
    *reason = "JWK kty EC: only crv P-256 and P-384 are supported";
    return TA_E_KEY_INVALID;
  }
  /* RFC 7518 6.2.1.2: x and y are exactly the field size, not minimal. */
  point[0] = 0x04;
  if (!member_bytes(jwk, "x", point + 1, field, &xlen, scratch) || xlen != field
      || !member_bytes(jwk, "y", point + 1 + field, field, &ylen, scratch) || ylen != field) {
    *reason = "JWK EC: x and y must be base64url of exactly the curve's field size";
    return TA_E_KEY_INVALID;
  }
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  if (bld == NULL)
    return TA_E_NOMEM;
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field);
  *out = pkey_fromdata("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (*out == NULL) {
    *reason = "JWK EC: the point is not on the curve";
    return TA_E_KEY_INVALID;
  }
  return TA_OK;
}

static ta_status_t rsa_key(json_t *jwk, apr_pool_t *scratch, EVP_PKEY **out, const char **reason)
{
  unsigned char *n = apr_palloc(scratch, JWK_MAX_MEMBER_BYTES);
  unsigned char e[8];
  size_t nlen = 0, elen = 0;
  /* RFC 7518 6.3.1: minimal octets, so no leading zero byte. */
  if (!member_bytes(jwk, "n", n, JWK_MAX_MEMBER_BYTES, &nlen, scratch) || n[0] == 0) {
    *reason = "JWK RSA: n must be base64url of the minimal big-endian modulus (at most 16384 bits)";
    return TA_E_KEY_INVALID;
  }
  if (!member_bytes(jwk, "e", e, sizeof(e), &elen, scratch) || e[0] == 0) {
    *reason = "JWK RSA: e must be base64url of the minimal big-endian exponent";
    return TA_E_KEY_INVALID;
  }
  BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
  BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  ta_status_t st = TA_E_NOMEM;
  if (bn_n != NULL && bn_e != NULL && bld != NULL
      && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1
      && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
    *out = pkey_fromdata("RSA", bld);
    st = TA_OK;
    if (*out == NULL) {
      *reason = "JWK RSA: key rejected by OpenSSL";
      st = TA_E_KEY_INVALID;
    }
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return st;
}

ta_status_t ta_jwk_public_to_pkey(apr_pool_t *p, const char *json, size_t len, EVP_PKEY **out,
                                  ta_alg_t *jwk_alg, const char **reason)
{
  static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
  json_error_t jerr;
  apr_pool_t *scratch = NULL;
  ta_status_t st = TA_E_KEY_INVALID;

  *out = NULL;
  *jwk_alg = TA_ALG_NONE;
  json_t *jwk = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(jwk)) {
    *reason = "not a JSON object (JWK)";
    goto done;
  }
  for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
    if (json_object_get(jwk, private_members[i]) != NULL) {
      *reason = "JWK carries private key members; give the public key only";
      goto done;
    }
  json_t *use = json_object_get(jwk, "use");
  if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) {
    *reason = "JWK \"use\" must be \"sig\"";
    goto done;
  }
  json_t *alg = json_object_get(jwk, "alg");
  if (alg != NULL) {
    if (!json_is_string(alg) || (*jwk_alg = alg_from_jwk(json_string_value(alg))) == TA_ALG_NONE) {
      *reason = "JWK \"alg\" is not a supported signature algorithm";
      goto done;
    }
  }
  json_t *kty = json_object_get(jwk, "kty");
  const char *k = json_is_string(kty) ? json_string_value(kty) : "";
  if (apr_pool_create(&scratch, p) != APR_SUCCESS) {
    st = TA_E_NOMEM;
    goto done;
  }
  if (strcmp(k, "OKP") == 0)
    st = okp_key(jwk, scratch, out, reason);
  else if (strcmp(k, "EC") == 0)
    st = ec_key(jwk, scratch, out, reason);
  else if (strcmp(k, "RSA") == 0)
    st = rsa_key(jwk, scratch, out, reason);
  else
    *reason = "JWK kty must be OKP, EC or RSA";
done:
  if (scratch != NULL)
    apr_pool_destroy(scratch);
  json_decref(jwk);
  return st;
}

/* Strict JWK import: kty OKP (Ed25519), EC (P-256, P-384) and RSA, members
 * base64url without padding, built with EVP_PKEY_fromdata. Public loading
 * refuses private members; private loading requires them. */
#include <string.h>

#include <jansson.h>
#include <apr_pools.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>

#include "ta_b64.h"
#include "ta_keys_jwk.h"

/* Largest member we decode: an RSA modulus of TA_RSA_MAX_BITS. */
#define JWK_MAX_MEMBER_BYTES (TA_RSA_MAX_BITS / 8)

typedef struct {
  json_t *jwk;
  apr_pool_t *scratch;
  int want_private;
  OSSL_PARAM_BLD *bld;
  BIGNUM *bns[8];      /* kept alive until the params are built */
  int n_bns;
  struct { unsigned char *bytes; size_t len; } decoded[12];  /* wiped at the end */
  int n_decoded;
  const char **reason;
} jwk_ctx_t;

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

/* Decode a required base64url member (1..cap bytes); NULL when missing or bad. */
static unsigned char *member_bytes(jwk_ctx_t *c, const char *name, size_t cap, size_t *len)
{
  json_t *v = json_object_get(c->jwk, name);
  unsigned char *dec;
  if (!json_is_string(v)
      || ta_b64_decode(c->scratch, TA_B64_URL, json_string_value(v), json_string_length(v),
                       &dec, len) != TA_OK
      || *len == 0 || *len > cap)
    return NULL;
  if (c->n_decoded < (int)(sizeof(c->decoded) / sizeof(c->decoded[0]))) {
    c->decoded[c->n_decoded].bytes = dec;
    c->decoded[c->n_decoded++].len = *len;
  }
  return dec;
}

/* An unsigned big-endian integer member; minimal (no leading zero octet)
 * when RFC 7518 says so. */
static int push_bn(jwk_ctx_t *c, const char *member, const char *param, int minimal)
{
  size_t len;
  unsigned char *b = member_bytes(c, member, JWK_MAX_MEMBER_BYTES, &len);
  if (b == NULL || (minimal && b[0] == 0) || c->n_bns == (int)(sizeof(c->bns) / sizeof(c->bns[0])))
    return 0;
  BIGNUM *bn = BN_bin2bn(b, (int)len, NULL);
  if (bn == NULL)
    return 0;
  c->bns[c->n_bns++] = bn;
  return OSSL_PARAM_BLD_push_BN(c->bld, param, bn) == 1;
}

static EVP_PKEY *pkey_fromdata(jwk_ctx_t *c, const char *type)
{
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(c->bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &pkey,
                      c->want_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static ta_status_t reject(jwk_ctx_t *c, const char *why)
{
  *c->reason = why;
  return TA_E_KEY_INVALID;
}

/* OSSL_PARAM_BLD_push_* fail only when out of memory. */
static ta_status_t no_memory(jwk_ctx_t *c)
{
  *c->reason = "out of memory building the key parameters";
  return TA_E_NOMEM;
}

static ta_status_t okp_key(jwk_ctx_t *c, EVP_PKEY **out)
{
  size_t xlen = 0, dlen = 0;
  unsigned char *x, *d;
  json_t *crv = json_object_get(c->jwk, "crv");
  if (!json_is_string(crv) || strcmp(json_string_value(crv), "Ed25519") != 0)
    return reject(c, "JWK kty OKP: only crv Ed25519 is supported");
  if ((x = member_bytes(c, "x", 32, &xlen)) == NULL || xlen != 32)
    return reject(c, "JWK Ed25519: x must be 32 bytes of base64url");
  if (OSSL_PARAM_BLD_push_octet_string(c->bld, OSSL_PKEY_PARAM_PUB_KEY, x, xlen) != 1)
    return no_memory(c);
  if (c->want_private) {
    if ((d = member_bytes(c, "d", 32, &dlen)) == NULL || dlen != 32)
      return reject(c, "JWK Ed25519: d must be 32 bytes of base64url");
    if (OSSL_PARAM_BLD_push_octet_string(c->bld, OSSL_PKEY_PARAM_PRIV_KEY, d, dlen) != 1)
      return no_memory(c);
  }
  if ((*out = pkey_fromdata(c, "ED25519")) == NULL)
    return reject(c, "JWK Ed25519: key rejected by OpenSSL");
  return TA_OK;
}

static ta_status_t ec_key(jwk_ctx_t *c, EVP_PKEY **out)
{
  unsigned char point[1 + 2 * 48];
  unsigned char *x, *y;
  size_t xlen = 0, ylen = 0, dlen = 0, field;
  const char *group;
  json_t *crv = json_object_get(c->jwk, "crv");
  const char *name = json_is_string(crv) ? json_string_value(crv) : "";
  if (strcmp(name, "P-256") == 0) {
    field = 32;
    group = SN_X9_62_prime256v1;
  } else if (strcmp(name, "P-384") == 0) {
    field = 48;
    group = SN_secp384r1;
  } else {
    return reject(c, "JWK kty EC: only crv P-256 and P-384 are supported");
  }
  /* RFC 7518 6.2.1.2: x, y (and 6.2.2.1: d) are exactly the field size. */
  if ((x = member_bytes(c, "x", field, &xlen)) == NULL || xlen != field
      || (y = member_bytes(c, "y", field, &ylen)) == NULL || ylen != field)
    return reject(c, "JWK EC: x and y must be base64url of exactly the curve's field size");
  point[0] = 0x04;
  memcpy(point + 1, x, field);
  memcpy(point + 1 + field, y, field);
  if (OSSL_PARAM_BLD_push_utf8_string(c->bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1
      || OSSL_PARAM_BLD_push_octet_string(c->bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field) != 1)
    return no_memory(c);
  if (c->want_private) {
    unsigned char *d = member_bytes(c, "d", field, &dlen);
    BIGNUM *bn = d != NULL && dlen == field ? BN_bin2bn(d, (int)dlen, NULL) : NULL;
    if (bn == NULL)
      return reject(c, "JWK EC: d must be base64url of exactly the curve's field size");
    c->bns[c->n_bns++] = bn;
    if (OSSL_PARAM_BLD_push_BN(c->bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) != 1)
      return no_memory(c);
  }
  if ((*out = pkey_fromdata(c, "EC")) == NULL)
    return reject(c, "JWK EC: the point is not on the curve");
  return TA_OK;
}

static ta_status_t rsa_key(jwk_ctx_t *c, EVP_PKEY **out)
{
  /* RFC 7518 6.3.1: n and e use the minimal number of octets. */
  if (!push_bn(c, "n", OSSL_PKEY_PARAM_RSA_N, 1))
    return reject(c, "JWK RSA: n must be base64url of the minimal big-endian modulus (at most 16384 bits)");
  if (!push_bn(c, "e", OSSL_PKEY_PARAM_RSA_E, 1))
    return reject(c, "JWK RSA: e must be base64url of the minimal big-endian exponent");
  if (c->want_private) {
    if (json_object_get(c->jwk, "oth") != NULL)
      return reject(c, "JWK RSA: multi-prime keys (oth) are not supported");
    if (!push_bn(c, "d", OSSL_PKEY_PARAM_RSA_D, 0)
        || !push_bn(c, "p", OSSL_PKEY_PARAM_RSA_FACTOR1, 0)
        || !push_bn(c, "q", OSSL_PKEY_PARAM_RSA_FACTOR2, 0)
        || !push_bn(c, "dp", OSSL_PKEY_PARAM_RSA_EXPONENT1, 0)
        || !push_bn(c, "dq", OSSL_PKEY_PARAM_RSA_EXPONENT2, 0)
        || !push_bn(c, "qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0))
      return reject(c, "JWK RSA: a private key needs d, p, q, dp, dq and qi");
  }
  if ((*out = pkey_fromdata(c, "RSA")) == NULL)
    return reject(c, "JWK RSA: key rejected by OpenSSL");
  return TA_OK;
}

ta_status_t ta_jwk_to_pkey(apr_pool_t *p, const char *json, size_t len, int want_private,
                           EVP_PKEY **out, ta_alg_t *jwk_alg, const char **reason)
{
  static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
  json_error_t jerr;
  jwk_ctx_t c;
  memset(&c, 0, sizeof(c));
  c.want_private = want_private;
  c.reason = reason;
  ta_status_t st = TA_E_KEY_INVALID;

  *out = NULL;
  *jwk_alg = TA_ALG_NONE;
  c.jwk = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(c.jwk)) {
    *reason = "not a JSON object (JWK)";
    goto done;
  }
  if (!want_private) {
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
      if (json_object_get(c.jwk, private_members[i]) != NULL) {
        *reason = "JWK carries private key members; give the public key only";
        goto done;
      }
  } else if (json_object_get(c.jwk, "d") == NULL) {
    *reason = "JWK has no private key (d)";
    goto done;
  }
  json_t *use = json_object_get(c.jwk, "use");
  if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) {
    *reason = "JWK \"use\" must be \"sig\"";
    goto done;
  }
  json_t *alg = json_object_get(c.jwk, "alg");
  if (alg != NULL) {
    if (!json_is_string(alg) || (*jwk_alg = alg_from_jwk(json_string_value(alg))) == TA_ALG_NONE) {
      *reason = "JWK \"alg\" is not a supported signature algorithm";
      goto done;
    }
  }
  json_t *kty = json_object_get(c.jwk, "kty");
  const char *k = json_is_string(kty) ? json_string_value(kty) : "";
  if (apr_pool_create(&c.scratch, p) != APR_SUCCESS || (c.bld = OSSL_PARAM_BLD_new()) == NULL) {
    st = TA_E_NOMEM;
    goto done;
  }
  if (strcmp(k, "OKP") == 0)
    st = okp_key(&c, out);
  else if (strcmp(k, "EC") == 0)
    st = ec_key(&c, out);
  else if (strcmp(k, "RSA") == 0)
    st = rsa_key(&c, out);
  else
    *reason = "JWK kty must be OKP, EC or RSA";
done:
  OSSL_PARAM_BLD_free(c.bld);
  for (int i = 0; i < c.n_bns; i++)
    BN_clear_free(c.bns[i]);
  for (int i = 0; i < c.n_decoded; i++)
    OPENSSL_cleanse(c.decoded[i].bytes, c.decoded[i].len);
  if (c.scratch != NULL)
    apr_pool_destroy(c.scratch);
  json_decref(c.jwk);
  return st;
}

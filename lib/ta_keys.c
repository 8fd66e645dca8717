/* Keys and RFC 9421 signature algorithms over OpenSSL 3 EVP. A ta_key_t
 * is immutable after loading, except for its verification template (set
 * once, atomically), so verification may run on many threads at once; each
 * call works on its own copy of the template. */
#include <stdatomic.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ta_b64.h"
#include "ta_keys.h"
#include "ta_keys_jwk.h"

#define HMAC_SHA256_LEN 32
#define PSS_SALT_LEN 64
#define MAX_PEM_BLOCKS 4

struct ta_key {
  ta_alg_t alg;
  EVP_PKEY *pkey;        /* NULL for HMAC */
  EVP_PKEY *spki;        /* published public half when it differs from pkey, else NULL */
  EVP_MD *md;            /* fetched once; NULL for ed25519 and HMAC */
  unsigned char *secret; /* HMAC only */
  size_t secret_len;
  int is_private;
  int bits;
  size_t sig_len;
  /* Verification context with algorithm, padding and digest already set
   * up, built on first use: fetching OpenSSL's provider implementations
   * costs as much per call as an RSA verification's arithmetic, while
   * duplicating a set-up context is nearly free. ed25519 (one-shot,
   * no pre-hash) uses an EVP_MD_CTX; the pre-hashed algorithms an
   * EVP_PKEY_CTX for EVP_PKEY_verify over the digest. */
  _Atomic(EVP_MD_CTX *) verify_md_template;
  _Atomic(EVP_PKEY_CTX *) verify_pkey_template;
};

static const struct { ta_alg_t alg; const char *name; } alg_names[] = {
  { TA_ALG_ED25519, "ed25519" },
  { TA_ALG_ECDSA_P256_SHA256, "ecdsa-p256-sha256" },
  { TA_ALG_ECDSA_P384_SHA384, "ecdsa-p384-sha384" },
  { TA_ALG_RSA_PSS_SHA512, "rsa-pss-sha512" },
  { TA_ALG_RSA_V1_5_SHA256, "rsa-v1_5-sha256" },
  { TA_ALG_HMAC_SHA256, "hmac-sha256" },
};

const char *ta_alg_name(ta_alg_t alg)
{
  for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
    if (alg_names[i].alg == alg)
      return alg_names[i].name;
  return NULL;
}

ta_alg_t ta_alg_from_name(const char *name)
{
  if (name == NULL)
    return TA_ALG_NONE;
  for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
    if (strcmp(alg_names[i].name, name) == 0)
      return alg_names[i].alg;
  return TA_ALG_NONE;
}

static int is_rsa_alg(ta_alg_t alg)
{
  return alg == TA_ALG_RSA_PSS_SHA512 || alg == TA_ALG_RSA_V1_5_SHA256;
}

static const char *md_name_of(ta_alg_t alg)
{
  switch (alg) {
  case TA_ALG_ECDSA_P256_SHA256:
  case TA_ALG_RSA_V1_5_SHA256: return "SHA256";
  case TA_ALG_ECDSA_P384_SHA384: return "SHA384";
  case TA_ALG_RSA_PSS_SHA512: return "SHA512";
  default: return NULL;
  }
}

static apr_status_t key_cleanup(void *data)
{
  ta_key_t *k = data;
  EVP_MD_CTX_free(atomic_exchange(&k->verify_md_template, NULL));
  EVP_PKEY_CTX_free(atomic_exchange(&k->verify_pkey_template, NULL));
  EVP_PKEY_free(k->pkey);
  EVP_PKEY_free(k->spki);
  EVP_MD_free(k->md);
  if (k->secret != NULL)
    OPENSSL_cleanse(k->secret, k->secret_len);
  k->pkey = NULL;
  k->spki = NULL;
  k->md = NULL;
  return APR_SUCCESS;
}

static ta_key_t *key_new(apr_pool_t *p)
{
  ta_key_t *k = apr_pcalloc(p, sizeof(*k));
  apr_pool_cleanup_register(p, k, key_cleanup, apr_pool_cleanup_null);
  return k;
}

static ta_status_t fail(const char **err, const char *reason)
{
  if (err != NULL)
    *err = reason;
  ERR_clear_error();
  return TA_E_KEY_INVALID;
}

/* Which algorithm this EVP key serves, given the caller's (and the JWK's)
 * wish; TA_ALG_NONE with *reason when it cannot. */
static ta_alg_t resolve_alg(apr_pool_t *p, EVP_PKEY *pkey, ta_alg_t want, const char **reason)
{
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    if (want != TA_ALG_NONE && want != TA_ALG_ED25519) {
      *reason = apr_psprintf(p, "an Ed25519 key cannot serve %s", ta_alg_name(want));
      return TA_ALG_NONE;
    }
    return TA_ALG_ED25519;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64];
    ta_alg_t have;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), NULL) != 1) {
      *reason = "EC key without a named curve (explicit parameters are not supported)";
      return TA_ALG_NONE;
    }
    if (strcmp(group, SN_X9_62_prime256v1) == 0)
      have = TA_ALG_ECDSA_P256_SHA256;
    else if (strcmp(group, SN_secp384r1) == 0)
      have = TA_ALG_ECDSA_P384_SHA384;
    else {
      *reason = apr_psprintf(p, "EC curve %s is not supported (use P-256 or P-384)", group);
      return TA_ALG_NONE;
    }
    if (want != TA_ALG_NONE && want != have) {
      *reason = apr_psprintf(p, "an EC %s key cannot serve %s", group, ta_alg_name(want));
      return TA_ALG_NONE;
    }
    return have;
  }
  /* An rsassaPss key (RFC 9421 test-key-rsa-pss private form) only does PSS. */
  if (EVP_PKEY_is_a(pkey, "RSA-PSS")) {
    if (want != TA_ALG_NONE && want != TA_ALG_RSA_PSS_SHA512) {
      *reason = apr_psprintf(p, "an RSA-PSS key cannot serve %s", ta_alg_name(want));
      return TA_ALG_NONE;
    }
    return TA_ALG_RSA_PSS_SHA512;
  }
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (want == TA_ALG_NONE) {
      *reason = "an RSA key needs an explicit algorithm (rsa-pss-sha512 or rsa-v1_5-sha256)";
      return TA_ALG_NONE;
    }
    if (!is_rsa_alg(want)) {
      *reason = apr_psprintf(p, "an RSA key cannot serve %s", ta_alg_name(want));
      return TA_ALG_NONE;
    }
    return want;
  }
  *reason = "unsupported key type (use Ed25519, EC P-256/P-384 or RSA)";
  return TA_ALG_NONE;
}

/* The rsaEncryption form of an rsassaPss key: the same n and e under the
 * OID every peer imports, so one key has one fingerprint however its
 * private half happens to be stored. */
static EVP_PKEY *rsa_encryption_twin(EVP_PKEY *pss)
{
  BIGNUM *n = NULL, *e = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  EVP_PKEY *out = NULL;
  if (bld != NULL && ctx != NULL
      && EVP_PKEY_get_bn_param(pss, OSSL_PKEY_PARAM_RSA_N, &n) == 1
      && EVP_PKEY_get_bn_param(pss, OSSL_PKEY_PARAM_RSA_E, &e) == 1
      && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1
      && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1
      && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
      && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &out, EVP_PKEY_PUBLIC_KEY, params);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(n);
  BN_free(e);
  return out;
}

static EVP_PKEY *spki_of(const ta_key_t *k)
{
  return k->spki != NULL ? k->spki : k->pkey;
}

static int self_test(apr_pool_t *p, const ta_key_t *k)
{
  static const unsigned char probe[] = "trustedapp key self-test";
  unsigned char *sig;
  size_t len;
  return ta_key_sign(p, k, probe, sizeof(probe) - 1, &sig, &len) == TA_OK
         && ta_key_verify(k, probe, sizeof(probe) - 1, sig, len) == TA_OK;
}

/* Takes ownership of pkey. */
static ta_status_t finish_key(apr_pool_t *p, EVP_PKEY *pkey, ta_alg_t want,
                              ta_alg_t jwk_alg, int is_private, ta_key_t **out,
                              const char **err)
{
  const char *reason = NULL;
  if (want != TA_ALG_NONE && jwk_alg != TA_ALG_NONE && want != jwk_alg) {
    EVP_PKEY_free(pkey);
    return fail(err, apr_psprintf(p, "the key is marked for %s, not %s",
                                  ta_alg_name(jwk_alg), ta_alg_name(want)));
  }
  if (want == TA_ALG_NONE)
    want = jwk_alg;
  if (want == TA_ALG_HMAC_SHA256) {
    EVP_PKEY_free(pkey);
    return fail(err, "hmac-sha256 takes a shared secret, not a public key");
  }
  ta_alg_t alg = resolve_alg(p, pkey, want, &reason);
  if (alg == TA_ALG_NONE) {
    EVP_PKEY_free(pkey);
    return fail(err, reason);
  }
  int bits = EVP_PKEY_get_bits(pkey);
  if (is_rsa_alg(alg) && (bits < TA_RSA_MIN_BITS || bits > TA_RSA_MAX_BITS)) {
    EVP_PKEY_free(pkey);
    return fail(err, apr_psprintf(p, "RSA key of %d bits refused (%d to %d bits)",
                                  bits, TA_RSA_MIN_BITS, TA_RSA_MAX_BITS));
  }
  /* Catches off-curve points and malformed RSA moduli before first use. */
  if (!is_private) {
    EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = chk != NULL && EVP_PKEY_public_check(chk) == 1;
    EVP_PKEY_CTX_free(chk);
    if (!ok) {
      EVP_PKEY_free(pkey);
      return fail(err, "the public key fails OpenSSL's consistency check");
    }
  }
  ta_key_t *k = key_new(p);
  k->pkey = pkey;
  k->alg = alg;
  k->is_private = is_private;
  k->bits = bits;
  if (md_name_of(alg) != NULL && (k->md = EVP_MD_fetch(NULL, md_name_of(alg), NULL)) == NULL)
    return fail(err, "message digest unavailable in this OpenSSL");
  /* Only for private keys: a public key's fingerprint stays the hash of
   * the SPKI it came in (docs/CERTIFICATE.md), whatever its OID. */
  if (is_private && EVP_PKEY_is_a(pkey, "RSA-PSS") && (k->spki = rsa_encryption_twin(pkey)) == NULL)
    return fail(err, "the RSA-PSS key's public half could not be exported");
  switch (alg) {
  case TA_ALG_ED25519:
  case TA_ALG_ECDSA_P256_SHA256: k->sig_len = 64; break;
  case TA_ALG_ECDSA_P384_SHA384: k->sig_len = 96; break;
  default: k->sig_len = (size_t)(bits + 7) / 8; break;
  }
  /* A private key whose parts disagree (edited SEC1/PKCS#1 files carry
   * their own public half) would sign what nobody can verify: refuse it. */
  if (is_private && !self_test(p, k))
    return fail(err, "the private key is inconsistent (its signature does not verify)");
  *out = k;
  ERR_clear_error();
  return TA_OK;
}

typedef struct {
  char *name;
  unsigned char *der;
  long len;
} pem_block_t;

static void free_blocks(pem_block_t *b, int n)
{
  for (int i = 0; i < n; i++) {
    OPENSSL_free(b[i].name);
    if (b[i].der != NULL)
      OPENSSL_clear_free(b[i].der, (size_t)b[i].len);
  }
}

/* Every PEM block in the input, in order; -1 when a block is malformed or
 * there are more than MAX_PEM_BLOCKS. */
static int read_pem_blocks(const char *data, size_t len, pem_block_t *blocks)
{
  BIO *bio = BIO_new_mem_buf(data, (int)len);
  int n = 0;
  if (bio == NULL)
    return -1;
  for (;;) {
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long dlen = 0;
    if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
      unsigned long e = ERR_peek_last_error();
      /* Running out of input ends the list; anything else is malformed. */
      if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        break;
      free_blocks(blocks, n);
      n = -1;
      break;
    }
    int has_header = header != NULL && header[0] != '\0';
    OPENSSL_free(header);
    if (n == MAX_PEM_BLOCKS || has_header) {  /* headers mean legacy encryption */
      OPENSSL_free(name);
      OPENSSL_clear_free(der, (size_t)dlen);
      free_blocks(blocks, n);
      n = -1;
      break;
    }
    blocks[n].name = name;
    blocks[n].der = der;
    blocks[n].len = dlen;
    n++;
  }
  BIO_free(bio);
  ERR_clear_error();
  return n;
}

static int is_public_label(const char *name)
{
  return strcmp(name, "PUBLIC KEY") == 0 || strcmp(name, "RSA PUBLIC KEY") == 0;
}

static int is_private_label(const char *name)
{
  return strcmp(name, "PRIVATE KEY") == 0 || strcmp(name, "EC PRIVATE KEY") == 0
         || strcmp(name, "RSA PRIVATE KEY") == 0 || strcmp(name, "ENCRYPTED PRIVATE KEY") == 0;
}

/* The DER of an Ed25519 SubjectPublicKeyInfo is this fixed prefix and the
 * 32-byte key (RFC 8410). Decoding it directly skips OpenSSL's generic
 * decoder chain, which dominates loading a registry of many applications
 * (about 80 us per key); any other encoding takes the generic path. */
static const unsigned char ed25519_spki_prefix[] = {
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};
#define ED25519_SPKI_LEN (sizeof(ed25519_spki_prefix) + 32)

/* SPKI DER, whole input consumed. */
static EVP_PKEY *spki_from_der(const unsigned char *der, long len)
{
  if (len == (long)ED25519_SPKI_LEN && memcmp(der, ed25519_spki_prefix, sizeof(ed25519_spki_prefix)) == 0)
    return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, der + sizeof(ed25519_spki_prefix), 32);
  const unsigned char *q = der;
  EVP_PKEY *pkey = d2i_PUBKEY_ex(NULL, &q, len, NULL, NULL);
  if (pkey != NULL && q != der + len) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  return pkey;
}

static EVP_PKEY *pkcs1_public_from_der(const unsigned char *der, long len)
{
  const unsigned char *q = der;
  EVP_PKEY *pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, len);
  if (pkey != NULL && q != der + len) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  return pkey;
}

static const char *skip_space(const char *s, const char *end)
{
  while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
    s++;
  return s;
}

static int looks_like_pem(const char *data, size_t len)
{
  static const char begin[] = "-----BEGIN ";
  const char *s = skip_space(data, data + len);
  return (size_t)(data + len - s) >= sizeof(begin) - 1
         && memcmp(s, begin, sizeof(begin) - 1) == 0;
}

ta_status_t ta_key_load_public(apr_pool_t *p, const char *data, size_t len,
                               ta_alg_t alg, ta_key_t **out, const char **err)
{
  EVP_PKEY *pkey = NULL;
  ta_alg_t jwk_alg = TA_ALG_NONE;
  *out = NULL;
  if (data == NULL || len == 0)
    return fail(err, "empty key");
  if (len > TA_KEY_MAX_INPUT)
    return fail(err, "key input too large");

  if (looks_like_pem(data, len)) {
    pem_block_t blocks[MAX_PEM_BLOCKS];
    int n = read_pem_blocks(data, len, blocks);
    if (n <= 0)
      return fail(err, "malformed PEM");
    const pem_block_t *pub = NULL;
    int n_pub = 0, n_priv = 0, n_other = 0;
    for (int i = 0; i < n; i++) {
      if (is_public_label(blocks[i].name)) {
        pub = &blocks[i];
        n_pub++;
      } else if (is_private_label(blocks[i].name))
        n_priv++;
      else
        n_other++;
    }
    const char *reason = NULL;
    if (n_priv > 0)
      reason = "the input contains a private key; give the public key only";
    else if (n_pub != 1 || n_other > 0)
      reason = "expected exactly one PEM block \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"";
    else if (strcmp(pub->name, "PUBLIC KEY") == 0)
      pkey = spki_from_der(pub->der, pub->len);
    else
      pkey = pkcs1_public_from_der(pub->der, pub->len);
    if (reason == NULL && pkey == NULL)
      reason = "PEM public key could not be decoded";
    free_blocks(blocks, n);
    if (reason != NULL)
      return fail(err, reason);
  } else {
    const char *s = skip_space(data, data + len);
    if (s < data + len && *s == '{') {
      const char *reason = NULL;
      ta_status_t st = ta_jwk_to_pkey(p, data, len, 0, &pkey, &jwk_alg, &reason);
      if (st != TA_OK) {
        if (st == TA_E_KEY_INVALID)
          return fail(err, reason);
        ERR_clear_error();
        return st;
      }
    } else if ((pkey = spki_from_der((const unsigned char *)data, (long)len)) == NULL) {
      return fail(err, "not a PEM, DER SubjectPublicKeyInfo or JWK public key");
    }
  }
  return finish_key(p, pkey, alg, jwk_alg, 0, out, err);
}

static EVP_PKEY *private_from_block(const pem_block_t *b)
{
  const unsigned char *q = b->der;
  EVP_PKEY *pkey = NULL;
  if (strcmp(b->name, "PRIVATE KEY") == 0) {
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, b->len);
    if (p8 != NULL && q == b->der + b->len)
      pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return pkey;
  }
  int type = strcmp(b->name, "EC PRIVATE KEY") == 0 ? EVP_PKEY_EC : EVP_PKEY_RSA;
  pkey = d2i_PrivateKey_ex(type, NULL, &q, b->len, NULL, NULL);
  if (pkey != NULL && q != b->der + b->len) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  return pkey;
}

ta_status_t ta_key_load_private(apr_pool_t *p, const char *data, size_t len,
                                ta_alg_t alg, ta_key_t **out, const char **err)
{
  pem_block_t blocks[MAX_PEM_BLOCKS];
  const pem_block_t *priv = NULL;
  const char *reason = NULL;
  EVP_PKEY *pkey = NULL;
  int n_priv = 0;

  *out = NULL;
  if (data == NULL || len == 0)
    return fail(err, "empty key");
  if (len > TA_KEY_MAX_INPUT)
    return fail(err, "key input too large");
  if (!looks_like_pem(data, len)) {
    const char *s = skip_space(data, data + len);
    ta_alg_t jwk_alg = TA_ALG_NONE;
    if (s == data + len || *s != '{')
      return fail(err, "private keys are read from PEM or JWK only");
    ta_status_t st = ta_jwk_to_pkey(p, data, len, 1, &pkey, &jwk_alg, &reason);
    if (st != TA_OK) {
      if (st == TA_E_KEY_INVALID)
        return fail(err, reason);
      ERR_clear_error();
      return st;
    }
    return finish_key(p, pkey, alg, jwk_alg, 1, out, err);
  }
  int n = read_pem_blocks(data, len, blocks);
  if (n <= 0)
    return fail(err, "malformed PEM (or a legacy encrypted PEM)");
  /* A public block next to the private one (RFC 9421 B.1 layout) is fine. */
  for (int i = 0; i < n; i++) {
    if (is_private_label(blocks[i].name)) {
      priv = &blocks[i];
      n_priv++;
    } else if (!is_public_label(blocks[i].name)) {
      reason = apr_psprintf(p, "unexpected PEM block \"%s\"", blocks[i].name);
    }
  }
  if (reason == NULL && n_priv != 1)
    reason = "expected exactly one private key PEM block";
  else if (reason == NULL && strcmp(priv->name, "ENCRYPTED PRIVATE KEY") == 0)
    reason = "encrypted private keys are not supported; decrypt it first (openssl pkey)";
  else if (reason == NULL && (pkey = private_from_block(priv)) == NULL)
    reason = apr_psprintf(p, "PEM \"%s\" could not be decoded", priv->name);
  free_blocks(blocks, n);
  if (reason != NULL)
    return fail(err, reason);
  return finish_key(p, pkey, alg, TA_ALG_NONE, 1, out, err);
}

ta_status_t ta_key_hmac(apr_pool_t *p, const unsigned char *secret, size_t len,
                        ta_key_t **out)
{
  if (secret == NULL || len == 0 || len > TA_KEY_MAX_INPUT)
    return TA_E_KEY_INVALID;
  ta_key_t *k = key_new(p);
  k->alg = TA_ALG_HMAC_SHA256;
  k->secret = apr_pmemdup(p, secret, len);
  k->secret_len = len;
  k->is_private = 1;
  k->bits = (int)(len * 8);
  k->sig_len = HMAC_SHA256_LEN;
  *out = k;
  return TA_OK;
}

ta_status_t ta_key_generate(apr_pool_t *p, ta_alg_t alg, int rsa_bits,
                            ta_key_t **out, const char **err)
{
  EVP_PKEY *pkey = NULL;
  *out = NULL;
  switch (alg) {
  case TA_ALG_ED25519:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    break;
  case TA_ALG_ECDSA_P256_SHA256:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    break;
  case TA_ALG_ECDSA_P384_SHA384:
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    break;
  case TA_ALG_RSA_PSS_SHA512:
  case TA_ALG_RSA_V1_5_SHA256:
    if (rsa_bits < TA_RSA_MIN_BITS || rsa_bits > TA_RSA_MAX_BITS)
      return fail(err, apr_psprintf(p, "RSA size %d refused (%d to %d bits)",
                                    rsa_bits, TA_RSA_MIN_BITS, TA_RSA_MAX_BITS));
    /* Plain rsaEncryption keys: their SPKI is what every peer can import. */
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
    break;
  default:
    return fail(err, "key generation needs ed25519, ecdsa-p256-sha256, ecdsa-p384-sha384, rsa-pss-sha512 or rsa-v1_5-sha256");
  }
  if (pkey == NULL)
    return fail(err, "key generation failed");
  return finish_key(p, pkey, alg, TA_ALG_NONE, 1, out, err);
}

ta_alg_t ta_key_alg(const ta_key_t *k)
{
  return k ? k->alg : TA_ALG_NONE;
}

int ta_key_bits(const ta_key_t *k)
{
  return k ? k->bits : 0;
}

int ta_key_is_private(const ta_key_t *k)
{
  return k ? k->is_private : 0;
}

size_t ta_key_sig_len(const ta_key_t *k)
{
  return k ? k->sig_len : 0;
}

void *ta_key_evp_pkey(const ta_key_t *k)
{
  return k ? k->pkey : NULL;
}

/* PSS per RFC 9421 3.3.1: MGF1 with SHA-512 and a 64-byte salt, exactly. */
static int set_rsa_padding(EVP_PKEY_CTX *pctx, ta_alg_t alg)
{
  if (alg == TA_ALG_RSA_PSS_SHA512)
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
           && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, PSS_SALT_LEN) == 1
           && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA512", NULL) == 1;
  if (alg == TA_ALG_RSA_V1_5_SHA256)
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  return 1;
}

static int hmac_sha256(const ta_key_t *k, const unsigned char *data, size_t len,
                       unsigned char mac[HMAC_SHA256_LEN])
{
  size_t n = 0;
  return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret, k->secret_len,
                   data, len, mac, HMAC_SHA256_LEN, &n) != NULL
         && n == HMAC_SHA256_LEN;
}

/* DER ECDSA-Sig-Value to fixed-length r||s, each left-padded. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len,
                            unsigned char *raw, size_t raw_len)
{
  const unsigned char *q = der;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
  const BIGNUM *r, *s;
  int ok = 0;
  if (es == NULL)
    return 0;
  ECDSA_SIG_get0(es, &r, &s);
  ok = BN_bn2binpad(r, raw, (int)(raw_len / 2)) == (int)(raw_len / 2)
       && BN_bn2binpad(s, raw + raw_len / 2, (int)(raw_len / 2)) == (int)(raw_len / 2);
  ECDSA_SIG_free(es);
  return ok;
}

/* One DER INTEGER (minimal, non-negative) of a big-endian magnitude. */
static size_t der_integer(const unsigned char *mag, size_t len, unsigned char *out)
{
  while (len > 1 && mag[0] == 0) {
    mag++;
    len--;
  }
  size_t pad = (mag[0] & 0x80) != 0;
  out[0] = 0x02;
  out[1] = (unsigned char)(len + pad);
  out[2] = 0;
  memcpy(out + 2 + pad, mag, len);
  return 2 + pad + len;
}

/* Fixed-length r||s to an ECDSA-Sig-Value, encoded directly: both halves
 * are at most 48 bytes (P-384), so every length fits DER's short form. */
static int ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len,
                            unsigned char *der, size_t *der_len)
{
  size_t half = raw_len / 2;
  if (raw_len == 0 || raw_len % 2 != 0 || half > 48)
    return 0;
  size_t n = der_integer(raw, half, der + 2);
  n += der_integer(raw + half, half, der + 2 + n);
  der[0] = 0x30;
  der[1] = (unsigned char)n;
  *der_len = n + 2;
  return 1;
}

static int is_ecdsa(ta_alg_t alg)
{
  return alg == TA_ALG_ECDSA_P256_SHA256 || alg == TA_ALG_ECDSA_P384_SHA384;
}

ta_status_t ta_key_sign(apr_pool_t *p, const ta_key_t *k,
                        const unsigned char *data, size_t len,
                        unsigned char **sig, size_t *sig_len)
{
  if (k == NULL || !k->is_private || (data == NULL && len > 0))
    return TA_E_KEY_INVALID;
  if (k->alg == TA_ALG_HMAC_SHA256) {
    unsigned char *mac = apr_palloc(p, HMAC_SHA256_LEN);
    if (!hmac_sha256(k, data, len, mac))
      return TA_E_INTERNAL;
    *sig = mac;
    *sig_len = HMAC_SHA256_LEN;
    return TA_OK;
  }
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *buf = NULL;
  size_t n = 0;
  ta_status_t st = TA_E_INTERNAL;
  if (mctx == NULL)
    return TA_E_NOMEM;
  if (EVP_DigestSignInit(mctx, &pctx, k->md, NULL, k->pkey) != 1
      || !set_rsa_padding(pctx, k->alg)
      || EVP_DigestSign(mctx, NULL, &n, data, len) != 1)
    goto done;
  buf = OPENSSL_malloc(n);
  if (buf == NULL || EVP_DigestSign(mctx, buf, &n, data, len) != 1)
    goto done;
  unsigned char *res = apr_palloc(p, k->sig_len);
  if (is_ecdsa(k->alg)) {
    if (!ecdsa_der_to_raw(buf, n, res, k->sig_len))
      goto done;
  } else {
    if (n != k->sig_len)
      goto done;
    memcpy(res, buf, n);
  }
  *sig = res;
  *sig_len = k->sig_len;
  st = TA_OK;
done:
  OPENSSL_free(buf);
  EVP_MD_CTX_free(mctx);
  ERR_clear_error();
  return st;
}

/* The template once built, or a fresh one installed now. Two threads may
 * both build one; the loser frees its own. */
static EVP_MD_CTX *md_template(ta_key_t *k)
{
  EVP_MD_CTX *t = atomic_load_explicit(&k->verify_md_template, memory_order_acquire);
  if (t != NULL)
    return t;
  EVP_MD_CTX *fresh = EVP_MD_CTX_new();
  if (fresh == NULL || EVP_DigestVerifyInit(fresh, NULL, NULL, NULL, k->pkey) != 1) {
    EVP_MD_CTX_free(fresh);
    return NULL;
  }
  if (!atomic_compare_exchange_strong(&k->verify_md_template, &t, fresh)) {
    EVP_MD_CTX_free(fresh);
    return t;
  }
  return fresh;
}

static EVP_PKEY_CTX *pkey_template(ta_key_t *k)
{
  EVP_PKEY_CTX *t = atomic_load_explicit(&k->verify_pkey_template, memory_order_acquire);
  if (t != NULL)
    return t;
  EVP_PKEY_CTX *fresh = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
  if (fresh == NULL || EVP_PKEY_verify_init(fresh) != 1 || !set_rsa_padding(fresh, k->alg)
      || EVP_PKEY_CTX_set_signature_md(fresh, k->md) != 1) {
    EVP_PKEY_CTX_free(fresh);
    return NULL;
  }
  if (!atomic_compare_exchange_strong(&k->verify_pkey_template, &t, fresh)) {
    EVP_PKEY_CTX_free(fresh);
    return t;
  }
  return fresh;
}

/* ed25519: pure EdDSA over the whole message. */
static ta_status_t verify_one_shot(const ta_key_t *k, const unsigned char *data, size_t len,
                                   const unsigned char *sig, size_t sig_len)
{
  EVP_MD_CTX *t = md_template((ta_key_t *)k);
  EVP_MD_CTX *mctx = t != NULL ? EVP_MD_CTX_new() : NULL;
  ta_status_t st = TA_E_INTERNAL;
  if (mctx != NULL && EVP_MD_CTX_copy_ex(mctx, t) == 1)
    st = EVP_DigestVerify(mctx, sig, sig_len, data, len) == 1 ? TA_OK : TA_E_BAD_SIGNATURE;
  EVP_MD_CTX_free(mctx);
  return st;
}

/* ECDSA and RSA: hash, then verify the signature over the digest. */
static ta_status_t verify_digest(const ta_key_t *k, const unsigned char *data, size_t len,
                                 const unsigned char *sig, size_t sig_len)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_PKEY_CTX *t = pkey_template((ta_key_t *)k);
  if (t == NULL || EVP_Digest(data, len, digest, &digest_len, k->md, NULL) != 1)
    return TA_E_INTERNAL;
  EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_dup(t);
  ta_status_t st = TA_E_INTERNAL;
  if (pctx != NULL)
    st = EVP_PKEY_verify(pctx, sig, sig_len, digest, digest_len) == 1 ? TA_OK : TA_E_BAD_SIGNATURE;
  EVP_PKEY_CTX_free(pctx);
  return st;
}

ta_status_t ta_key_verify(const ta_key_t *k,
                          const unsigned char *data, size_t len,
                          const unsigned char *sig, size_t sig_len)
{
  if (k == NULL || (data == NULL && len > 0))
    return TA_E_INTERNAL;
  if (sig == NULL || sig_len != k->sig_len)
    return TA_E_SIG_ENCODING;
  if (k->alg == TA_ALG_HMAC_SHA256) {
    unsigned char mac[HMAC_SHA256_LEN];
    if (!hmac_sha256(k, data, len, mac))
      return TA_E_INTERNAL;
    int same = CRYPTO_memcmp(mac, sig, HMAC_SHA256_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return same ? TA_OK : TA_E_BAD_SIGNATURE;
  }
  const unsigned char *to_verify = sig;
  size_t to_verify_len = sig_len;
  unsigned char der[2 + 2 * (3 + 48)];
  if (is_ecdsa(k->alg)) {
    if (!ecdsa_raw_to_der(sig, sig_len, der, &to_verify_len))
      return TA_E_INTERNAL;
    to_verify = der;
  }
  ta_status_t st = k->md == NULL ? verify_one_shot(k, data, len, to_verify, to_verify_len)
                                  : verify_digest(k, data, len, to_verify, to_verify_len);
  /* A refusal leaves errors in this thread's OpenSSL queue, where the
   * connection's next TLS call would find them (SSL_get_error): they go.
   * A success leaves none, and looking is cheaper than clearing the
   * queue's sixteen slots each time. */
  if (st != TA_OK || ERR_peek_error() != 0)
    ERR_clear_error();
  return st;
}

static char *bio_to_pool(apr_pool_t *p, BIO *bio)
{
  char *mem = NULL;
  long n = BIO_get_mem_data(bio, &mem);
  return n > 0 ? apr_pstrmemdup(p, mem, (apr_size_t)n) : NULL;
}

char *ta_key_public_pem(apr_pool_t *p, const ta_key_t *k)
{
  if (k == NULL || k->pkey == NULL)
    return NULL;
  BIO *bio = BIO_new(BIO_s_mem());
  char *pem = NULL;
  if (bio != NULL && PEM_write_bio_PUBKEY(bio, spki_of(k)) == 1)
    pem = bio_to_pool(p, bio);
  BIO_free(bio);
  ERR_clear_error();
  return pem;
}

char *ta_key_private_pem(apr_pool_t *p, const ta_key_t *k)
{
  if (k == NULL || k->pkey == NULL || !k->is_private)
    return NULL;
  BIO *bio = BIO_new(BIO_s_secmem());
  char *pem = NULL;
  if (bio == NULL)
    bio = BIO_new(BIO_s_mem());
  if (bio != NULL && PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1)
    pem = bio_to_pool(p, bio);
  BIO_free(bio);
  ERR_clear_error();
  return pem;
}

char *ta_key_fingerprint(apr_pool_t *p, const ta_key_t *k)
{
  unsigned char *der = NULL;
  unsigned char md[32];
  unsigned int md_len = 0;
  if (k == NULL || k->pkey == NULL)
    return NULL;
  int der_len;
  unsigned char ed_der[ED25519_SPKI_LEN];
  size_t raw_len = 32;
  if (k->alg == TA_ALG_ED25519 && spki_of(k) == k->pkey
      && EVP_PKEY_get_raw_public_key(k->pkey, ed_der + sizeof(ed25519_spki_prefix), &raw_len) == 1
      && raw_len == 32) {
    /* Same bytes as i2d_PUBKEY, without the generic encoder (see spki_from_der). */
    memcpy(ed_der, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
    der = OPENSSL_memdup(ed_der, sizeof(ed_der));
    der_len = der ? (int)sizeof(ed_der) : -1;
  } else {
    der_len = i2d_PUBKEY(spki_of(k), &der);
  }
  if (der_len <= 0) {
    ERR_clear_error();
    return NULL;
  }
  int ok = EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL) == 1;
  OPENSSL_free(der);
  if (!ok || md_len != sizeof(md)) {
    ERR_clear_error();
    return NULL;
  }
  return apr_pstrcat(p, "SHA256:", ta_b64_encode(p, TA_B64_STD_NOPAD, md, md_len), NULL);
}

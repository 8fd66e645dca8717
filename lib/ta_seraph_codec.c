/* Seraph wire codec: header parsing, raw RSA unwrap, RC4 certificate,
 * URL signature, signer. Protocol reference: docs/SERAPH.md. */
#include "ta_seraph_codec.h"

#include <limits.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "ta_b64.h"
#include "ta_rc4.h"

#define RC4_KEY_LEN 16
#define MAGIC_LEN (sizeof(TA_SERAPH_MAGIC) - 1)

static int is_blank(const char *s)
{
  if (!s)
    return 1;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t')
      return 0;
  return 1;
}

int ta_seraph_present(const ta_msg_t *m)
{
  if (!m || !m->fields)
    return 0;
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    if (apr_cstr_casecmp(f[i].name, TA_SERAPH_H_CERT) == 0 && !is_blank(f[i].value))
      return 1;
  return 0;
}

/* The single value of a header; a repeated header is refused because a
 * joined value could never be valid and the Java servlet would silently
 * read only the first line. */
static ta_status_t single_field(apr_pool_t *p, const ta_msg_t *m, const char *name, size_t max,
                                const char **out, const char **detail)
{
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  const char *found = NULL;
  *out = NULL;
  for (int i = 0; i < m->fields->nelts; i++) {
    if (apr_cstr_casecmp(f[i].name, name) != 0)
      continue;
    if (found) {
      *detail = apr_psprintf(p, "%s repeated", name);
      return TA_E_SERAPH_HEADER_INVALID;
    }
    found = f[i].value ? f[i].value : "";
  }
  if (found && is_blank(found))
    found = NULL;
  if (found) {
    if (strlen(found) > max) {
      *detail = apr_psprintf(p, "%s longer than %" APR_SIZE_T_FMT " bytes", name, max);
      return TA_E_SERAPH_HEADER_INVALID;
    }
    for (const unsigned char *c = (const unsigned char *)found; *c; c++)
      if (*c < 0x20 || *c == 0x7f) {
        *detail = apr_psprintf(p, "%s contains control characters", name);
        return TA_E_SERAPH_HEADER_INVALID;
      }
  }
  *out = found;
  return TA_OK;
}

static ta_status_t b64_field(apr_pool_t *p, const char *name, const char *text,
                             const unsigned char **out, size_t *out_len,
                             const char **detail)
{
  unsigned char *bin = NULL;
  size_t n = 0;
  if (ta_b64_decode(p, TA_B64_STD, text, strlen(text), &bin, &n) != TA_OK || n == 0) {
    *detail = apr_psprintf(p, "%s is not strict base64", name);
    return TA_E_SERAPH_HEADER_INVALID;
  }
  *out = bin;
  *out_len = n;
  return TA_OK;
}

ta_status_t ta_seraph_parse(apr_pool_t *p, const ta_msg_t *m,
                            ta_seraph_request_t *out, const char **detail)
{
  const char *dummy;
  const char *cert, *id, *key, *version, *magic, *sig;
  ta_status_t st;
  if (!detail)
    detail = &dummy;
  *detail = NULL;
  memset(out, 0, sizeof(*out));
  if (!m || !m->fields)
    return TA_E_NO_CREDENTIALS;

  if ((st = single_field(p, m, TA_SERAPH_H_CERT, TA_SERAPH_MAX_CERT_B64, &cert, detail)) != TA_OK)
    return st;
  if (!cert)
    return TA_E_NO_CREDENTIALS;
  if ((st = single_field(p, m, TA_SERAPH_H_ID, TA_SERAPH_MAX_APP_ID, &id, detail)) != TA_OK
      || (st = single_field(p, m, TA_SERAPH_H_KEY, TA_SERAPH_MAX_RSA_B64, &key, detail)) != TA_OK
      || (st = single_field(p, m, TA_SERAPH_H_VERSION, TA_SERAPH_MAX_VERSION, &version, detail)) != TA_OK
      || (st = single_field(p, m, TA_SERAPH_H_MAGIC, TA_SERAPH_MAX_RSA_B64, &magic, detail)) != TA_OK
      || (st = single_field(p, m, TA_SERAPH_H_SIGNATURE, TA_SERAPH_MAX_RSA_B64, &sig, detail)) != TA_OK)
    return st;

  /* Version first (it decides whether Key is needed), reported in Java's order. */
  int vnum = 0, vbad = 0;
  out->version_str = version;
  if (version) {
    const char *c = version;
    for (; *c >= '0' && *c <= '9'; c++)
      vnum = vnum * 10 + (*c - '0');
    if (*c || vnum > 99)
      vbad = 1;
  }
  if (!id) {
    *detail = "no " TA_SERAPH_H_ID;
    return TA_E_SERAPH_APP_ID_MISSING;
  }
  out->app_id = id;
  if (!key && (vbad || vnum != 3)) {
    *detail = "no " TA_SERAPH_H_KEY;
    return TA_E_SERAPH_KEY_MISSING;
  }
  if (vbad) {
    *detail = "version is not a small decimal integer";
    return TA_E_SERAPH_PROTOCOL;
  }
  out->version = vnum;
  if (vnum >= 1 && vnum != 3 && !magic) {
    *detail = "no " TA_SERAPH_H_MAGIC;
    return TA_E_SERAPH_MAGIC_MISSING;
  }
  if (vnum >= 2 && !sig) {
    *detail = "no " TA_SERAPH_H_SIGNATURE;
    return TA_E_SERAPH_SIGNATURE_MISSING;
  }

  out->cert_b64 = cert;
  if ((st = b64_field(p, TA_SERAPH_H_CERT, cert, &out->cert, &out->cert_len, detail)) != TA_OK)
    return st;
  if (vnum != 3) {
    if ((st = b64_field(p, TA_SERAPH_H_KEY, key, &out->key, &out->key_len, detail)) != TA_OK)
      return st;
    if (magic && (st = b64_field(p, TA_SERAPH_H_MAGIC, magic, &out->magic, &out->magic_len, detail)) != TA_OK)
      return st;
  }
  if (sig && (st = b64_field(p, TA_SERAPH_H_SIGNATURE, sig, &out->signature, &out->signature_len, detail)) != TA_OK)
    return st;
  return TA_OK;
}

static EVP_PKEY_CTX *rsa_ctx(struct evp_pkey_st *pkey)
{
  if (!pkey || !EVP_PKEY_is_a(pkey, "RSA"))
    return NULL;
  return EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
}

ta_status_t ta_seraph_rsa_unwrap(apr_pool_t *p, struct evp_pkey_st *pub,
                                 const unsigned char *in, size_t in_len,
                                 unsigned char **out, size_t *out_len)
{
  ta_status_t st = TA_E_SERAPH_CERT;
  EVP_PKEY_CTX *ctx = rsa_ctx(pub);
  *out = NULL;
  *out_len = 0;
  if (!ctx)
    return TA_E_SERAPH_CERT;
  int size = EVP_PKEY_get_size(pub);
  if (size <= 0 || in_len == 0 || in_len > (size_t)size)
    goto done;
  /* OpenSSL's no-padding mode wants exactly the modulus length; BouncyCastle
   * accepted shorter input, which is the same number. */
  unsigned char *padded = apr_pcalloc(p, (size_t)size);
  unsigned char *plain = apr_palloc(p, (size_t)size);
  memcpy(padded + ((size_t)size - in_len), in, in_len);
  size_t plen = (size_t)size;
  if (EVP_PKEY_verify_recover_init(ctx) <= 0
      || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) <= 0
      || EVP_PKEY_verify_recover(ctx, plain, &plen, padded, (size_t)size) <= 0)
    goto done;
  size_t skip = 0;
  while (skip < plen && plain[skip] == 0)
    skip++;
  *out = plain + skip;
  *out_len = plen - skip;
  st = TA_OK;
done:
  EVP_PKEY_CTX_free(ctx);
  return st;
}

/* Raw private-key operation (textbook RSA) as the Java signer does with
 * "RSA/NONE/NoPadding" in ENCRYPT_MODE; output is modulus-length. */
static ta_status_t rsa_wrap(apr_pool_t *p, struct evp_pkey_st *priv,
                            const unsigned char *in, size_t in_len, const char **b64)
{
  ta_status_t st = TA_E_INTERNAL;
  EVP_PKEY_CTX *ctx = rsa_ctx(priv);
  if (!ctx)
    return TA_E_KEY_INVALID;
  int size = EVP_PKEY_get_size(priv);
  if (size <= 0 || in_len >= (size_t)size)
    goto done;
  unsigned char *padded = apr_pcalloc(p, (size_t)size);
  unsigned char *wrapped = apr_palloc(p, (size_t)size);
  size_t wlen = (size_t)size;
  memcpy(padded + ((size_t)size - in_len), in, in_len);
  if (EVP_PKEY_sign_init(ctx) <= 0
      || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) <= 0
      || EVP_PKEY_sign(ctx, wrapped, &wlen, padded, (size_t)size) <= 0)
    goto done;
  OPENSSL_cleanse(padded, (size_t)size);
  *b64 = ta_b64_encode(p, TA_B64_STD, wrapped, wlen);
  st = *b64 ? TA_OK : TA_E_INTERNAL;
done:
  EVP_PKEY_CTX_free(ctx);
  return st;
}

static int valid_user(const unsigned char *u, size_t len)
{
  if (len == 0 || len > TA_SERAPH_MAX_USER)
    return 0;
  for (size_t i = 0; i < len;) {
    unsigned c = u[i];
    unsigned cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      cp = c & 0x1f;
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      cp = c & 0x0f;
      n = 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      cp = c & 0x07;
      n = 4;
    } else {
      return 0;
    }
    if (i + n > len)
      return 0;
    for (size_t k = 1; k < n; k++) {
      if ((u[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (u[i + k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
      return 0;
    i += n;
  }
  return 1;
}

ta_status_t ta_seraph_cert_parse(apr_pool_t *p, const unsigned char *plain,
                                 size_t len, int require_magic,
                                 ta_seraph_cert_t *out, const char **detail)
{
  const char *dummy;
  const unsigned char *line[3] = {NULL, NULL, NULL};
  size_t line_len[3] = {0, 0, 0};
  size_t nlines = 0, pos = 0;
  if (!detail)
    detail = &dummy;
  memset(out, 0, sizeof(*out));
  /* Java BufferedReader.readLine: \n, \r and \r\n end a line; a final
   * line without terminator counts; nothing after the third line matters. */
  while (pos < len && nlines < 3) {
    size_t start = pos;
    while (pos < len && plain[pos] != '\n' && plain[pos] != '\r')
      pos++;
    line[nlines] = plain + start;
    line_len[nlines] = pos - start;
    nlines++;
    if (pos < len && plain[pos] == '\r' && pos + 1 < len && plain[pos + 1] == '\n')
      pos++;
    if (pos < len)
      pos++;
  }
  if (nlines < 2) {
    *detail = "certificate has fewer than two lines";
    return TA_E_SERAPH_CERT;
  }
  if (require_magic
      && (nlines < 3 || line_len[2] != MAGIC_LEN
          || CRYPTO_memcmp(line[2], TA_SERAPH_MAGIC, MAGIC_LEN) != 0)) {
    *detail = "certificate magic mismatch (secret key)";
    return TA_E_SERAPH_CERT;
  }
  /* Canonical decimal only: the signature covers Long.toString(created). */
  const unsigned char *ts = line[0];
  size_t tl = line_len[0];
  if (tl == 0 || tl > 19 || (ts[0] == '0' && tl > 1)) {
    *detail = "certificate timestamp is not a canonical decimal";
    return TA_E_SERAPH_CERT;
  }
  int64_t v = 0;
  for (size_t i = 0; i < tl; i++) {
    if (ts[i] < '0' || ts[i] > '9' || v > (INT64_MAX - (ts[i] - '0')) / 10) {
      *detail = "certificate timestamp is not a canonical decimal";
      return TA_E_SERAPH_CERT;
    }
    v = v * 10 + (ts[i] - '0');
  }
  if (!valid_user(line[1], line_len[1])) {
    *detail = "certificate user is empty, too long, not UTF-8 or has control characters";
    return TA_E_USER_INVALID;
  }
  out->created_ms = v;
  out->created_str = apr_pstrmemdup(p, (const char *)ts, tl);
  out->user = apr_pstrmemdup(p, (const char *)line[1], line_len[1]);
  return TA_OK;
}

ta_status_t ta_seraph_decode(apr_pool_t *p, struct evp_pkey_st *pub,
                             const ta_seraph_request_t *req,
                             ta_seraph_cert_t *out, const char **detail)
{
  const char *dummy;
  unsigned char *k = NULL;
  size_t klen = 0;
  if (!detail)
    detail = &dummy;
  memset(out, 0, sizeof(*out));
  if (req->version == 3)
    return ta_seraph_cert_parse(p, req->cert, req->cert_len, 1, out, detail);

  if (req->version >= 1) {
    unsigned char *m = NULL;
    size_t mlen = 0;
    if (!req->magic
        || ta_seraph_rsa_unwrap(p, pub, req->magic, req->magic_len, &m, &mlen) != TA_OK
        || mlen != MAGIC_LEN || CRYPTO_memcmp(m, TA_SERAPH_MAGIC, MAGIC_LEN) != 0) {
      *detail = "magic number does not decrypt under the registered key (public key)";
      return TA_E_SERAPH_MAGIC;
    }
  }
  if (ta_seraph_rsa_unwrap(p, pub, req->key, req->key_len, &k, &klen) != TA_OK || klen == 0) {
    *detail = "secret key does not decrypt under the registered key";
    return TA_E_SERAPH_CERT;
  }
  unsigned char *plain = apr_palloc(p, req->cert_len);
  ta_rc4_t rc4;
  ta_rc4_init(&rc4, k, klen);
  ta_rc4_crypt(&rc4, req->cert, plain, req->cert_len);
  ta_rc4_wipe(&rc4);
  OPENSSL_cleanse(k, klen);
  ta_status_t st = ta_seraph_cert_parse(p, plain, req->cert_len, req->version >= 1, out, detail);
  OPENSSL_cleanse(plain, req->cert_len);
  return st;
}

int ta_seraph_base_url_valid(const char *u, const char **why)
{
  const char *dummy;
  size_t n;
  if (!why)
    why = &dummy;
  *why = NULL;
  if (!u || !*u) {
    *why = "empty";
    return 0;
  }
  if (apr_cstr_casecmpn(u, "http://", 7) == 0)
    n = 7;
  else if (apr_cstr_casecmpn(u, "https://", 8) == 0)
    n = 8;
  else {
    *why = "must start with http:// or https://";
    return 0;
  }
  if (!u[n] || u[n] == '/' || u[n] == ':') {
    *why = "no host";
    return 0;
  }
  if (strlen(u) > TA_SERAPH_MAX_URL / 2) {
    *why = "too long";
    return 0;
  }
  for (const unsigned char *c = (const unsigned char *)u; *c; c++) {
    if (*c <= 0x20 || *c >= 0x7f) {
      *why = "contains spaces, control or non-ASCII characters";
      return 0;
    }
    if (*c == '?' || *c == '#') {
      *why = "must not have a query or fragment";
      return 0;
    }
  }
  const char *host_end = strchr(u + n, '/');
  const char *at = strchr(u + n, '@');
  if (at && (!host_end || at < host_end)) {
    *why = "must not carry user information";
    return 0;
  }
  return 1;
}

const char *ta_seraph_expected_url(apr_pool_t *p, const ta_msg_t *m,
                                   const char *base_url)
{
  const char *base;
  if (!m || !m->path)
    return NULL;
  if (base_url) {
    if (!ta_seraph_base_url_valid(base_url, NULL))
      return NULL;
    size_t blen = strlen(base_url);
    size_t scheme_len = (size_t)(strchr(base_url, ':') - base_url);
    while (blen > scheme_len + 3 && base_url[blen - 1] == '/')
      blen--;
    char *b = apr_pstrmemdup(p, base_url, blen);
    for (size_t i = 0; i < scheme_len; i++)  /* clients sign a lower-case scheme */
      b[i] = (char)apr_tolower(b[i]);
    base = b;
  } else {
    if (!m->scheme || !m->authority)
      return NULL;
    base = apr_pstrcat(p, m->scheme, "://", m->authority, NULL);
  }
  const char *url = apr_pstrcat(p, base, m->path, m->query ? "?" : "",
                                m->query ? m->query : "", NULL);
  return strlen(url) > TA_SERAPH_MAX_URL ? NULL : url;
}

static const char *signed_string(apr_pool_t *p, int version, const char *created,
                                 const char *url, const char *user)
{
  if (version == 3)
    return apr_pstrcat(p, created, "\n", url, "\n", user, NULL);
  return apr_pstrcat(p, created, "\n", url, NULL);
}

ta_status_t ta_seraph_check_signature(struct evp_pkey_st *pub, int version,
                                      const ta_seraph_cert_t *cert,
                                      const char *url,
                                      const unsigned char *sig, size_t sig_len)
{
  if (!pub || !EVP_PKEY_is_a(pub, "RSA") || !url || !sig || !cert || !cert->created_str)
    return TA_E_SERAPH_URL;
  const char *user = cert->user ? cert->user : "";
  ta_status_t st = TA_E_SERAPH_URL;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  /* The signed string, fed in pieces: created "\n" url [ "\n" user ]. */
  if (md && EVP_DigestVerifyInit(md, &pctx, EVP_sha1(), NULL, pub) > 0
      && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0
      && EVP_DigestVerifyUpdate(md, cert->created_str, strlen(cert->created_str)) > 0
      && EVP_DigestVerifyUpdate(md, "\n", 1) > 0
      && EVP_DigestVerifyUpdate(md, url, strlen(url)) > 0
      && (version != 3 || (EVP_DigestVerifyUpdate(md, "\n", 1) > 0
                           && EVP_DigestVerifyUpdate(md, user, strlen(user)) > 0))
      && EVP_DigestVerifyFinal(md, sig, sig_len) == 1)
    st = TA_OK;
  EVP_MD_CTX_free(md);
  return st;
}

static int url_signable(const char *url)
{
  if (!url || !*url || strlen(url) > TA_SERAPH_MAX_URL)
    return 0;
  for (const unsigned char *c = (const unsigned char *)url; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      return 0;
  return 1;
}

ta_status_t ta_seraph_sign_pkey(apr_pool_t *p, struct evp_pkey_st *priv,
                                const char *app_id, const char *user,
                                const char *url, int version, apr_time_t created,
                                ta_seraph_headers_t *out, const char **err)
{
  const char *dummy;
  ta_status_t st;
  if (!err)
    err = &dummy;
  memset(out, 0, sizeof(*out));
  if (!priv || !EVP_PKEY_is_a(priv, "RSA")) {
    *err = "Seraph signing needs an RSA private key";
    return TA_E_KEY_INVALID;
  }
  if (version < 0 || version > 3) {
    *err = "Seraph protocol version must be 0..3";
    return TA_E_CONFIG;
  }
  if (!app_id || !*app_id || strlen(app_id) > TA_SERAPH_MAX_APP_ID || strpbrk(app_id, "\r\n")) {
    *err = "application id is empty, too long or has a line break";
    return TA_E_CONFIG;
  }
  if (!user || !valid_user((const unsigned char *)user, strlen(user))) {
    *err = "user is empty, too long, not UTF-8 or has control characters";
    return TA_E_USER_INVALID;
  }
  if (version >= 2 && !url_signable(url)) {
    *err = "protocol 2/3 needs the absolute URL to sign, without control characters";
    return TA_E_CONFIG;
  }
  if (created < 0) {
    *err = "negative timestamp";
    return TA_E_CONFIG;
  }
  const char *ts = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)(created / 1000));
  const char *plain = version == 0 ? apr_pstrcat(p, ts, "\n", user, NULL)
                                   : apr_pstrcat(p, ts, "\n", user, "\n", TA_SERAPH_MAGIC, NULL);
  size_t plen = strlen(plain);

  out->app_id = app_id;
  if (version == 3) {
    out->cert = ta_b64_encode(p, TA_B64_STD, (const unsigned char *)plain, plen);
  } else {
    unsigned char k[RC4_KEY_LEN];
    /* A leading zero byte would be stripped by the receiver's unwrap. */
    do {
      if (RAND_bytes(k, sizeof(k)) != 1) {
        *err = "no randomness";
        return TA_E_INTERNAL;
      }
    } while (k[0] == 0);
    if ((st = rsa_wrap(p, priv, k, sizeof(k), &out->key)) != TA_OK
        || (version >= 1
            && (st = rsa_wrap(p, priv, (const unsigned char *)TA_SERAPH_MAGIC, MAGIC_LEN, &out->magic)) != TA_OK)) {
      OPENSSL_cleanse(k, sizeof(k));
      *err = "raw RSA private operation failed (is this a private key?)";
      return st == TA_E_KEY_INVALID ? st : TA_E_KEY_INVALID;
    }
    unsigned char *enc = apr_palloc(p, plen);
    ta_rc4_t rc4;
    ta_rc4_init(&rc4, k, sizeof(k));
    ta_rc4_crypt(&rc4, (const unsigned char *)plain, enc, plen);
    ta_rc4_wipe(&rc4);
    OPENSSL_cleanse(k, sizeof(k));
    out->cert = ta_b64_encode(p, TA_B64_STD, enc, plen);
  }
  if (version >= 1)
    out->version = apr_itoa(p, version);
  if (version >= 2) {
    const char *sbs = signed_string(p, version, ts, url, user);
    size_t siglen = 0;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    st = TA_E_KEY_INVALID;
    if (md && EVP_DigestSignInit(md, &pctx, EVP_sha1(), NULL, priv) > 0
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0
        && EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)sbs, strlen(sbs)) > 0
        && (sig = apr_palloc(p, siglen)) != NULL
        && EVP_DigestSign(md, sig, &siglen, (const unsigned char *)sbs, strlen(sbs)) > 0)
      st = TA_OK;
    EVP_MD_CTX_free(md);
    if (st != TA_OK) {
      *err = "SHA1withRSA signature failed (is this a private key?)";
      return st;
    }
    out->signature = ta_b64_encode(p, TA_B64_STD, sig, siglen);
  }
  if (!out->cert || (version != 3 && !out->key) || (version >= 2 && !out->signature)) {
    *err = "encoding failed";
    return TA_E_INTERNAL;
  }
  return TA_OK;
}

ta_status_t ta_seraph_sign(apr_pool_t *p, const ta_key_t *priv,
                           const char *app_id, const char *user,
                           const char *url, int version, apr_time_t created,
                           ta_seraph_headers_t *out, const char **err)
{
  if (!priv || !ta_key_is_private(priv)) {
    if (err)
      *err = "Seraph signing needs an RSA private key";
    memset(out, 0, sizeof(*out));
    return TA_E_KEY_INVALID;
  }
  return ta_seraph_sign_pkey(p, (struct evp_pkey_st *)ta_key_evp_pkey(priv), app_id,
                             user, url, version, created, out, err);
}

apr_array_header_t *ta_seraph_headers_fields(apr_pool_t *p, const ta_seraph_headers_t *h)
{
  const char *names[] = {TA_SERAPH_H_ID, TA_SERAPH_H_CERT, TA_SERAPH_H_KEY,
                         TA_SERAPH_H_VERSION, TA_SERAPH_H_MAGIC, TA_SERAPH_H_SIGNATURE};
  const char *values[] = {h->app_id, h->cert, h->key, h->version, h->magic, h->signature};
  apr_array_header_t *a = apr_array_make(p, 6, sizeof(ta_field_t));
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (!values[i])
      continue;
    ta_field_t *f = apr_array_push(a);
    f->name = names[i];
    f->value = values[i];
  }
  return a;
}

void ta_seraph_headers_add(ta_msg_t *m, const ta_seraph_headers_t *h)
{
  apr_array_header_t *a = ta_seraph_headers_fields(m->fields->pool, h);
  const ta_field_t *f = (const ta_field_t *)a->elts;
  for (int i = 0; i < a->nelts; i++)
    ta_msg_add_field(m, f[i].name, f[i].value);
}

/* The /admin/appTrustCertificate text document a Seraph peer serves:
 * application id, base64 SPKI DER, protocol version, magic string. */
#include "ta_seraph_codec.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ta_b64.h"

#define CERTDOC_MAX_BYTES (16 * 1024)
#define CERTDOC_LINES 4

static apr_status_t pkey_free(void *k)
{
  EVP_PKEY_free(k);
  return APR_SUCCESS;
}

static void pkey_cleanup_register(apr_pool_t *p, EVP_PKEY *k)
{
  apr_pool_cleanup_register(p, k, pkey_free, apr_pool_cleanup_null);
}

static int is_java_trim_char(char c)
{
  return (unsigned char)c <= 0x20;
}

ta_status_t ta_seraph_certdoc_parse(apr_pool_t *p, const char *body, size_t len,
                                    ta_seraph_certdoc_t *out, const char **err)
{
  const char *dummy;
  const char *line[CERTDOC_LINES + 1];
  size_t n = 0, pos = 0;
  if (!err)
    err = &dummy;
  memset(out, 0, sizeof(*out));
  if (!body || len == 0 || len > CERTDOC_MAX_BYTES) {
    *err = "certificate document is empty or larger than 16 KiB";
    return TA_E_SERAPH_CERTDOC;
  }
  if (memchr(body, '\0', len)) {
    *err = "certificate document contains NUL bytes";
    return TA_E_SERAPH_CERTDOC;
  }
  /* Java client: readLine, trim each line, drop blank lines. */
  while (pos < len) {
    size_t start = pos;
    while (pos < len && body[pos] != '\n' && body[pos] != '\r')
      pos++;
    size_t end = pos;
    if (pos < len && body[pos] == '\r' && pos + 1 < len && body[pos + 1] == '\n')
      pos++;
    if (pos < len)
      pos++;
    while (start < end && is_java_trim_char(body[start]))
      start++;
    while (end > start && is_java_trim_char(body[end - 1]))
      end--;
    if (end == start)
      continue;
    if (n == CERTDOC_LINES) {
      *err = "certificate document has more than 4 lines (is this really /admin/appTrustCertificate?)";
      return TA_E_SERAPH_CERTDOC;
    }
    line[n++] = apr_pstrmemdup(p, body + start, end - start);
  }
  if (n < 2) {
    *err = "certificate document too small: expected application id and public key";
    return TA_E_SERAPH_CERTDOC;
  }
  if (n == 3) {
    *err = "certificate document has a version line but no magic line";
    return TA_E_SERAPH_CERTDOC;
  }
  if (strlen(line[0]) > TA_SERAPH_MAX_APP_ID) {
    *err = "line 1: application id longer than 256 bytes";
    return TA_E_SERAPH_CERTDOC;
  }
  for (const unsigned char *c = (const unsigned char *)line[0]; *c; c++)
    if (*c < 0x20 || *c == 0x7f) {
      *err = "line 1: application id contains control characters";
      return TA_E_SERAPH_CERTDOC;
    }
  out->version = -1;
  if (n == 4) {
    const char *v = line[2];
    int num = 0;
    size_t vl = strlen(v);
    if (vl == 0 || vl > 8) {
      *err = "line 3: protocol version is not a small decimal integer";
      return TA_E_SERAPH_CERTDOC;
    }
    for (const char *c = v; *c; c++) {
      if (*c < '0' || *c > '9') {
        *err = "line 3: protocol version is not a small decimal integer";
        return TA_E_SERAPH_CERTDOC;
      }
      num = num * 10 + (*c - '0');
    }
    if (strcmp(line[3], TA_SERAPH_MAGIC) != 0) {
      *err = "line 4: magic number is not " TA_SERAPH_MAGIC;
      return TA_E_SERAPH_CERTDOC;
    }
    out->version = num;
  }
  unsigned char *der = NULL;
  size_t der_len = 0;
  if (ta_b64_decode(p, TA_B64_STD, line[1], strlen(line[1]), &der, &der_len) != TA_OK
      || der_len == 0 || der_len > 4096) {
    *err = "line 2: public key is not strict base64 of at most 4096 bytes";
    return TA_E_SERAPH_CERTDOC;
  }
  const unsigned char *cur = der;
  EVP_PKEY *pk = d2i_PUBKEY(NULL, &cur, (long)der_len);
  if (!pk || cur != der + der_len) {
    EVP_PKEY_free(pk);
    *err = "line 2: public key is not a DER SubjectPublicKeyInfo";
    return TA_E_SERAPH_CERTDOC;
  }
  pkey_cleanup_register(p, pk);
  if (!EVP_PKEY_is_a(pk, "RSA")) {
    *err = "line 2: public key is not RSA";
    return TA_E_SERAPH_CERTDOC;
  }
  BIO *bio = BIO_new(BIO_s_mem());
  char *pem_data = NULL;
  long pem_len;
  if (!bio || PEM_write_bio_PUBKEY(bio, pk) != 1
      || (pem_len = BIO_get_mem_data(bio, &pem_data)) <= 0) {
    BIO_free(bio);
    *err = "cannot re-encode the public key";
    return TA_E_INTERNAL;
  }
  out->public_pem = apr_pstrmemdup(p, pem_data, (apr_size_t)pem_len);
  BIO_free(bio);
  out->app_id = line[0];
  out->spki_der = der;
  out->spki_der_len = der_len;
  return TA_OK;
}

char *ta_seraph_certdoc_format_pkey(apr_pool_t *p, const char *app_id,
                                    struct evp_pkey_st *key, int version)
{
  if (!key || !EVP_PKEY_is_a(key, "RSA") || !app_id || !*app_id
      || strlen(app_id) > TA_SERAPH_MAX_APP_ID || version < 0)
    return NULL;
  for (const unsigned char *c = (const unsigned char *)app_id; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      return NULL;
  unsigned char *der = NULL;
  int der_len = i2d_PUBKEY(key, &der);
  if (der_len <= 0)
    return NULL;
  char *b64 = ta_b64_encode(p, TA_B64_STD, der, (size_t)der_len);
  OPENSSL_free(der);
  if (!b64)
    return NULL;
  return apr_psprintf(p, "%s\n%s\n%d\n%s", app_id, b64, version, TA_SERAPH_MAGIC);
}

char *ta_seraph_certdoc_format(apr_pool_t *p, const char *app_id,
                               const ta_key_t *key, int version)
{
  if (!key)
    return NULL;
  return ta_seraph_certdoc_format_pkey(p, app_id, (struct evp_pkey_st *)ta_key_evp_pkey(key),
                                       version);
}

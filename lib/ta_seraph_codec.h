/* Legacy Atlassian Seraph trusted-applications protocol: the wire codec.
 *
 * Everything here is independent of the registry and of policy: strict
 * header parsing, certificate unwrap/decrypt (raw RSA public operation +
 * RC4), the URL signature (SHA1withRSA), the signer, and the
 * /admin/appTrustCertificate document. The policy-level verifier that
 * looks applications up in the registry is in ta_seraph.h.
 * Wire reference: shared/reference/seraph/PROTOCOL-NOTES.md, docs/SERAPH.md.
 *
 * RSA keys are passed either as ta_key_t or as the raw EVP_PKEY (struct
 * evp_pkey_st, forward-declared so OpenSSL headers stay out); Seraph peers
 * use any modulus size, including Atlassian's own 1024-bit test keys. */
#ifndef TA_SERAPH_CODEC_H
#define TA_SERAPH_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ta_error.h"
#include "ta_msg.h"
#include "ta_keys.h"

struct evp_pkey_st;

/* Request header names (matched case-insensitively). */
#define TA_SERAPH_H_ID        "X-Seraph-Trusted-App-ID"
#define TA_SERAPH_H_CERT      "X-Seraph-Trusted-App-Cert"
#define TA_SERAPH_H_KEY       "X-Seraph-Trusted-App-Key"
#define TA_SERAPH_H_VERSION   "X-Seraph-Trusted-App-Version"
#define TA_SERAPH_H_MAGIC     "X-Seraph-Trusted-App-Magic"
#define TA_SERAPH_H_SIGNATURE "X-Seraph-Trusted-App-Signature"
/* Response headers. */
#define TA_SERAPH_H_STATUS    "X-Seraph-Trusted-App-Status"   /* "OK" / "ERROR" */
#define TA_SERAPH_H_ERROR     "X-Seraph-Trusted-App-Error"

/* String.valueOf(0xBADC0FEE) as a signed 32-bit int. */
#define TA_SERAPH_MAGIC "-1159983122"
/* Path suffix of the certificate document a peer serves. */
#define TA_SERAPH_CERT_PATH "/admin/appTrustCertificate"

/* Bounds on hostile input (bytes of the header value). */
#define TA_SERAPH_MAX_APP_ID     256
#define TA_SERAPH_MAX_USER       256
#define TA_SERAPH_MAX_CERT_B64   1024   /* plaintext: ts, user, magic (~300 bytes) */
#define TA_SERAPH_MAX_RSA_B64    1368   /* RSA up to 8192 bits: 1024 bytes */
#define TA_SERAPH_MAX_VERSION    8
#define TA_SERAPH_MAX_URL        8192

/* The Seraph headers of a request, checked for presence, uniqueness, size
 * and strict base64, with binary values decoded. Absent/empty = NULL/0. */
typedef struct {
  const char *app_id;
  int version;                     /* 0 when the Version header is absent */
  const char *version_str;         /* the Version header as received (bounded), or NULL */
  const char *cert_b64;            /* the Cert header as received */
  const unsigned char *cert; size_t cert_len;
  const unsigned char *key; size_t key_len;
  const unsigned char *magic; size_t magic_len;
  const unsigned char *signature; size_t signature_len;
} ta_seraph_request_t;

/* 1 when the request makes a Seraph attempt: a non-blank Cert header
 * (the Java filter's rule; without it no Seraph status header is sent). */
int ta_seraph_present(const ta_msg_t *m);

/* Parse the headers in the Java verifier's order: APP_ID, KEY, VERSION,
 * MAGIC presence (version >= 1), then SIGNATURE presence (version >= 2).
 * Returns TA_OK, TA_E_NO_CREDENTIALS (no Cert), TA_E_SERAPH_APP_ID_MISSING,
 * TA_E_SERAPH_KEY_MISSING, TA_E_SERAPH_PROTOCOL (Version not a decimal
 * integer 0..99), TA_E_SERAPH_MAGIC_MISSING, TA_E_SERAPH_SIGNATURE_MISSING,
 * TA_E_SERAPH_HEADER_INVALID (repeated, oversized, control characters,
 * non-strict base64). *detail names the header, never its value. Version 3
 * (unencrypted certificate, no Key/Magic) is recognised here; whether it is
 * accepted is the verifier's decision. */
ta_status_t ta_seraph_parse(apr_pool_t *p, const ta_msg_t *m,
                            ta_seraph_request_t *out, const char **detail);

/* Raw RSA public operation (no padding) on a wrapped value, leading zero
 * bytes stripped as BouncyCastle does. Input must be at most the modulus
 * size and numerically below the modulus. TA_OK or TA_E_SERAPH_CERT. */
ta_status_t ta_seraph_rsa_unwrap(apr_pool_t *p, struct evp_pkey_st *pub,
                                 const unsigned char *in, size_t in_len,
                                 unsigned char **out, size_t *out_len);

/* Decrypted certificate contents. */
typedef struct {
  int64_t created_ms;              /* line 1, epoch milliseconds */
  const char *created_str;         /* canonical decimal (what the signature covers) */
  const char *user;                /* line 2 */
} ta_seraph_cert_t;

/* Parse certificate plaintext: lines split like Java readLine (\n, \r,
 * \r\n); line 3 must be TA_SERAPH_MAGIC when require_magic (TA_E_SERAPH_CERT
 * "secret key" otherwise, checked before the timestamp as Java does); line 1
 * a canonical non-negative decimal (TA_E_SERAPH_CERT); line 2 non-empty,
 * valid UTF-8, no control characters, <= TA_SERAPH_MAX_USER
 * (TA_E_USER_INVALID). */
ta_status_t ta_seraph_cert_parse(apr_pool_t *p, const unsigned char *plain,
                                 size_t len, int require_magic,
                                 ta_seraph_cert_t *out, const char **detail);

/* Unwrap + check the Magic header (versions 1-2), unwrap the RC4 key,
 * decrypt and parse the certificate (version 3: plain base64 certificate).
 * TA_E_SERAPH_MAGIC: the Magic header does not decrypt to the magic string
 * under this key (the usual symptom of a wrong registered key).
 * TA_E_SERAPH_CERT: key unwrap failed or certificate plaintext invalid. */
ta_status_t ta_seraph_decode(apr_pool_t *p, struct evp_pkey_st *pub,
                             const ta_seraph_request_t *req,
                             ta_seraph_cert_t *out, const char **detail);

/* The URL the client must have signed: base_url (no trailing '/'; may carry
 * a path prefix a proxy strips) or scheme://authority from the message,
 * then the raw path, then "?" + raw query when the target had one. NULL if
 * the result would exceed TA_SERAPH_MAX_URL or base_url is malformed. */
const char *ta_seraph_expected_url(apr_pool_t *p, const ta_msg_t *m,
                                   const char *base_url);

/* Configuration-time check of a base URL ("http(s)://host[:port][/prefix]",
 * printable ASCII, no query, fragment or user info), the same rule
 * ta_seraph_expected_url applies. 1 when valid; *why (may be NULL) says why not. */
int ta_seraph_base_url_valid(const char *url, const char **why);

/* SHA1withRSA over created "\n" url (version 3: + "\n" user).
 * TA_OK or TA_E_SERAPH_URL. */
ta_status_t ta_seraph_check_signature(struct evp_pkey_st *pub, int version,
                                      const ta_seraph_cert_t *cert,
                                      const char *url,
                                      const unsigned char *sig, size_t sig_len);

/* Signer (trustapp-admin, tests). Header values as sent on the wire. */
typedef struct {
  const char *app_id, *cert, *key, *version, *magic, *signature;  /* NULL = not sent */
} ta_seraph_headers_t;

/* Produce the headers for one request, like atlassian-trusted-apps-core:
 * version 1 (no URL binding), 2 (default: signature over ts "\n" url) or
 * 3 (plain certificate, signature also covers the user); 0 only for tests
 * of the insecure path. created is the certificate timestamp (normally now).
 * Fresh 16-byte RC4 key with a non-zero first byte for each call.
 * Returns TA_OK, TA_E_KEY_INVALID (not an RSA private key),
 * TA_E_USER_INVALID (user contains CR/LF or is too long), TA_E_CONFIG
 * (bad version/URL), TA_E_INTERNAL. */
ta_status_t ta_seraph_sign(apr_pool_t *p, const ta_key_t *priv,
                           const char *app_id, const char *user,
                           const char *url, int version, apr_time_t created,
                           ta_seraph_headers_t *out, const char **err);
ta_status_t ta_seraph_sign_pkey(apr_pool_t *p, struct evp_pkey_st *priv,
                                const char *app_id, const char *user,
                                const char *url, int version, apr_time_t created,
                                ta_seraph_headers_t *out, const char **err);
/* The headers as ta_field_t in the Java emission order (ID, Cert, Key,
 * Version, Magic, Signature), skipping NULL values. */
apr_array_header_t *ta_seraph_headers_fields(apr_pool_t *p, const ta_seraph_headers_t *h);
/* Append them to a message (tests, tool). */
void ta_seraph_headers_add(ta_msg_t *m, const ta_seraph_headers_t *h);

/* /admin/appTrustCertificate document: "id\nbase64(SPKI DER)\nversion\n
 * -1159983122", no trailing newline. Parsing follows the Java client: lines
 * trimmed, blank lines dropped, 2 lines = protocol-0 document (version -1),
 * otherwise line 3 an integer and line 4 the magic string. */
typedef struct {
  const char *app_id;
  const unsigned char *spki_der; size_t spki_der_len;
  const char *public_pem;          /* SPKI PEM, ready for ta_key_load_public / the registry */
  int version;                     /* -1 when the document had no version line */
} ta_seraph_certdoc_t;

/* TA_OK or TA_E_SERAPH_CERTDOC (*err says which line is wrong). The key
 * must be an RSA public key; its size is not judged here. */
ta_status_t ta_seraph_certdoc_parse(apr_pool_t *p, const char *body, size_t len,
                                    ta_seraph_certdoc_t *out, const char **err);
/* Serialize the document for app_id and the public half of key (RSA);
 * NULL when the key is not RSA or app_id has a line break. */
char *ta_seraph_certdoc_format(apr_pool_t *p, const char *app_id,
                               const ta_key_t *key, int version);
char *ta_seraph_certdoc_format_pkey(apr_pool_t *p, const char *app_id,
                                    struct evp_pkey_st *key, int version);

#endif

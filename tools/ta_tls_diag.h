/* trustapp-admin TLS diagnosis: records the certificate chain a server
 * presents (also when verification fails), describes each certificate, and
 * names the root cause of a failed connection with a one-line fix. */
#ifndef TA_TLS_DIAG_H
#define TA_TLS_DIAG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

typedef struct {
  int depth;                    /* position as presented, 0 = server's own certificate */
  const char *subject;          /* RFC 2253 */
  const char *issuer;
  const char *not_before;       /* ISO 8601 UTC */
  const char *not_after;
  const char *sha256;           /* lower-case hex of the DER's SHA-256 */
  const char *sha256_colon;     /* AB:CD:... as `openssl x509 -fingerprint -sha256` prints it */
  const char *pem;
  apr_array_header_t *names;    /* subjectAltName entries, "DNS:x" / "IP:x" */
  int self_issued;
  void *x509;                   /* X509*, freed with the pool */
} ta_cert_info_t;

typedef struct {
  apr_pool_t *pool;
  apr_array_header_t *certs;    /* ta_cert_info_t*, presented order */
  int verify_error;             /* first X509_V_ERR_* seen; 0 = none */
  int verify_error_depth;
  const char *verify_error_subject;
  int client_cert_requested;    /* the server asked for a certificate we did not have */
  const char *tls_version;      /* negotiated ("TLSv1.3") once a handshake completed, else NULL */
  const char *cipher;
} ta_tls_capture_t;

ta_tls_capture_t *ta_tls_capture_make(apr_pool_t *p);
/* Installs the recording verify callback into an OpenSSL SSL_CTX (as given
 * by CURLOPT_SSL_CTX_FUNCTION). Verification stays exactly as configured:
 * the callback only records, it never overrides a verdict. 0 = ok. */
int ta_tls_capture_install(void *ssl_ctx, ta_tls_capture_t *cap);
/* Adds a PEM certificate (e.g. from CURLOPT_CERTINFO) when the handshake
 * recorded nothing (resumed session). */
void ta_tls_capture_add_pem(ta_tls_capture_t *cap, const char *pem);

/* Facts about one failed or successful transfer, from ta_http. */
typedef struct {
  const char *host;             /* the name we connected to */
  int curl_code;
  const char *curl_error;       /* libcurl's error buffer */
  long http_status;
  long connect_status;          /* proxy CONNECT answer, 0 if none */
  long connect_timeout_ms;
  const char *proxy;            /* proxy in use (from the environment) or NULL */
  int client_cert_given;
  const ta_tls_capture_t *tls;
} ta_net_facts_t;

typedef struct {
  const char *token;            /* stable: "unknown-issuer", "self-signed", "expired", ... "ok" */
  const char *message;
  const char *fix;
} ta_net_diagnosis_t;

/* Root cause of a network/TLS failure; token "ok" when nothing failed. */
ta_net_diagnosis_t ta_net_diagnose(apr_pool_t *p, const ta_net_facts_t *f);

/* The chain as a JSON array, and as text lines appended to *text. */
json_t *ta_tls_chain_json(const ta_tls_capture_t *cap);
const char *ta_tls_chain_text(apr_pool_t *p, const ta_tls_capture_t *cap);
/* The chain as concatenated PEM. */
const char *ta_tls_chain_pem(apr_pool_t *p, const ta_tls_capture_t *cap);

#endif

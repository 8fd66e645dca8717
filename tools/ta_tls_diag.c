/* TLS chain capture and root-cause classification for trustapp-admin.
 * The chain is recorded by a verify callback that sees every certificate the
 * server presented, so it can be shown (and saved) even when verification
 * fails; the callback never changes the verification result. */
#include "ta_tls_diag.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <apr_strings.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int capture_index = -1;

static apr_status_t free_x509(void *x)
{
  X509_free(x);
  return APR_SUCCESS;
}

static const char *bio_string(apr_pool_t *p, BIO *b)
{
  char *data;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? apr_pstrndup(p, data, (apr_size_t)n) : "";
}

static const char *name_string(apr_pool_t *p, const X509_NAME *n)
{
  BIO *b = BIO_new(BIO_s_mem());
  if (b == NULL)
    return "";
  /* escapes control characters and non-ASCII bytes: a hostile certificate
   * cannot inject terminal sequences or invalid UTF-8 into the output */
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
  const char *s = bio_string(p, b);
  BIO_free(b);
  return s;
}

static const char *time_string(apr_pool_t *p, const ASN1_TIME *t)
{
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
    return "invalid";
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return apr_pstrdup(p, buf);
}

static const char *printable(apr_pool_t *p, const unsigned char *data, int len)
{
  char *out = apr_palloc(p, (apr_size_t)(len > 0 ? len : 0) + 1);
  int n = 0;
  for (int i = 0; i < len; i++)
    out[n++] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
  out[n] = '\0';
  return out;
}

static apr_array_header_t *alt_names(apr_pool_t *p, X509 *x)
{
  apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  if (gens == NULL)
    return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING *s = g->d.dNSName;
      APR_ARRAY_PUSH(out, const char *) =
          apr_pstrcat(p, "DNS:", printable(p, ASN1_STRING_get0_data(s), ASN1_STRING_length(s)), NULL);
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING *s = g->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = "?";
      int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16)
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf);
      APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, "IP:", buf, NULL);
    }
  }
  GENERAL_NAMES_free(gens);
  return out;
}

static ta_cert_info_t *describe(apr_pool_t *p, X509 *x, int depth)
{
  ta_cert_info_t *ci = apr_pcalloc(p, sizeof *ci);
  X509_up_ref(x);
  ci->x509 = x;
  apr_pool_cleanup_register(p, x, free_x509, apr_pool_cleanup_null);
  ci->depth = depth;
  ci->subject = name_string(p, X509_get_subject_name(x));
  ci->issuer = name_string(p, X509_get_issuer_name(x));
  ci->not_before = time_string(p, X509_get0_notBefore(x));
  ci->not_after = time_string(p, X509_get0_notAfter(x));
  ci->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
    char *hex = apr_palloc(p, mdlen * 2 + 1), *colon = apr_palloc(p, mdlen * 3 + 1);
    for (unsigned int i = 0; i < mdlen; i++) {
      snprintf(hex + i * 2, 3, "%02x", md[i]);
      snprintf(colon + i * 3, 4, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
    }
    ci->sha256 = hex;
    ci->sha256_colon = colon;
  }
  BIO *b = BIO_new(BIO_s_mem());
  if (b) {
    PEM_write_bio_X509(b, x);
    ci->pem = bio_string(p, b);
    BIO_free(b);
  }
  ci->names = alt_names(p, x);
  return ci;
}

ta_tls_capture_t *ta_tls_capture_make(apr_pool_t *p)
{
  ta_tls_capture_t *cap = apr_pcalloc(p, sizeof *cap);
  cap->pool = p;
  cap->certs = apr_array_make(p, 4, sizeof(ta_cert_info_t *));
  return cap;
}

static int record_verify(int preverify_ok, X509_STORE_CTX *xs)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
  ta_tls_capture_t *cap = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), capture_index) : NULL;
  if (cap == NULL)
    return preverify_ok;
  if (cap->certs->nelts == 0) {
    STACK_OF(X509) *presented = X509_STORE_CTX_get0_untrusted(xs);
    for (int i = 0; presented && i < sk_X509_num(presented) && i < 16; i++)
      APR_ARRAY_PUSH(cap->certs, ta_cert_info_t *) = describe(cap->pool, sk_X509_value(presented, i), i);
  }
  if (!preverify_ok && cap->verify_error == 0) {
    cap->verify_error = X509_STORE_CTX_get_error(xs);
    cap->verify_error_depth = X509_STORE_CTX_get_error_depth(xs);
    X509 *bad = X509_STORE_CTX_get_current_cert(xs);
    cap->verify_error_subject = bad ? name_string(cap->pool, X509_get_subject_name(bad)) : NULL;
  }
  return preverify_ok;
}

/* OpenSSL calls this only when the server requests a client certificate
 * and none is configured: remember it for the diagnosis, send none. */
static int record_cert_request(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
  (void)x509;
  (void)pkey;
  ta_tls_capture_t *cap = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), capture_index);
  if (cap)
    cap->client_cert_requested = 1;
  return 0;
}

static void record_handshake(const SSL *ssl, int where, int ret)
{
  (void)ret;
  if (!(where & SSL_CB_HANDSHAKE_DONE))
    return;
  ta_tls_capture_t *cap = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), capture_index);
  const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
  if (cap && cipher) {
    cap->tls_version = apr_pstrdup(cap->pool, SSL_get_version(ssl));
    cap->cipher = apr_pstrdup(cap->pool, SSL_CIPHER_get_name(cipher));
  }
}

int ta_tls_capture_install(void *ssl_ctx, ta_tls_capture_t *cap)
{
  SSL_CTX *ctx = ssl_ctx;
  if (capture_index < 0)
    capture_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (capture_index < 0 || SSL_CTX_set_ex_data(ctx, capture_index, cap) != 1)
    return -1;
  /* keep libcurl's mode (peer verification on); only add the recorder */
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx) | SSL_VERIFY_PEER, record_verify);
  SSL_CTX_set_client_cert_cb(ctx, record_cert_request);
  SSL_CTX_set_info_callback(ctx, record_handshake);
  return 0;
}

void ta_tls_capture_add_pem(ta_tls_capture_t *cap, const char *pem)
{
  BIO *b = BIO_new_mem_buf(pem, -1);
  if (b == NULL)
    return;
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (x) {
    APR_ARRAY_PUSH(cap->certs, ta_cert_info_t *) = describe(cap->pool, x, cap->certs->nelts);
    X509_free(x);
  }
  BIO_free(b);
}

static const ta_cert_info_t *cert_at(const ta_tls_capture_t *cap, int depth)
{
  if (cap == NULL || depth < 0 || depth >= cap->certs->nelts)
    return NULL;
  return APR_ARRAY_IDX(cap->certs, depth, ta_cert_info_t *);
}

static const char *joined_names(apr_pool_t *p, const ta_cert_info_t *ci)
{
  if (ci == NULL || ci->names->nelts == 0)
    return "none";
  return apr_array_pstrcat(p, ci->names, ',');
}

static int leaf_matches_host(const ta_cert_info_t *leaf, const char *host)
{
  if (leaf == NULL || host == NULL)
    return 0;
  unsigned char addr[16];
  if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
    return X509_check_ip_asc(leaf->x509, host, 0) == 1;
  return X509_check_host(leaf->x509, host, 0, 0, NULL) == 1;
}

static ta_net_diagnosis_t diag(const char *token, const char *message, const char *fix)
{
  ta_net_diagnosis_t d = {token, message, fix};
  return d;
}

static ta_net_diagnosis_t diagnose_verify_error(apr_pool_t *p, const ta_net_facts_t *f)
{
  const ta_tls_capture_t *cap = f->tls;
  int err = cap->verify_error;
  const ta_cert_info_t *bad = cert_at(cap, cap->verify_error_depth);
  const char *who = cap->verify_error_subject ? cap->verify_error_subject : bad ? bad->subject : "?";
  switch (err) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return diag("expired",
                apr_psprintf(p, "the certificate '%s' (depth %d) expired on %s", who,
                             cap->verify_error_depth, bad ? bad->not_after : "?"),
                "renew the certificate on the server (if the date looks wrong, check this machine's clock)");
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return diag("not-yet-valid",
                apr_psprintf(p, "the certificate '%s' (depth %d) is valid only from %s", who,
                             cap->verify_error_depth, bad ? bad->not_before : "?"),
                "check the clocks (NTP) of this machine and of the server's CA, or wait until the start date");
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    return diag("self-signed",
                apr_psprintf(p, "the server presents a self-signed certificate '%s'", who),
                "have the server use a CA-issued certificate, or trust exactly this one: "
                "trustapp-admin tls-fetch HOST:PORT --out server.pem, compare its SHA-256 out of band, then --cacert server.pem");
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return diag("unknown-issuer",
                apr_psprintf(p, "no trusted CA issued '%s' (issuer '%s'): %s", who,
                             bad ? bad->issuer : "?", X509_verify_cert_error_string(err)),
                "pass the issuing CA certificate with --cacert FILE (or install it in the system store); "
                "if the server omits its intermediate certificates, configure it to send the full chain");
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return diag("name-mismatch",
                apr_psprintf(p, "the certificate is not valid for '%s' (it names %s)", f->host,
                             joined_names(p, cert_at(cap, 0))),
                "connect with a name the certificate lists, or reissue the certificate with this name in subjectAltName");
  default:
    return diag("certificate-invalid",
                apr_psprintf(p, "certificate '%s' (depth %d) rejected: %s", who,
                             cap->verify_error_depth, X509_verify_cert_error_string(err)),
                "inspect the chain below (trustapp-admin tls-fetch) and fix the certificate on the server");
  }
}

static int contains(const char *hay, const char *needle)
{
  return hay && strstr(hay, needle) != NULL;
}

ta_net_diagnosis_t ta_net_diagnose(apr_pool_t *p, const ta_net_facts_t *f)
{
  const char *detail = f->curl_error && *f->curl_error ? f->curl_error : curl_easy_strerror((CURLcode)f->curl_code);
  if (f->connect_status == 407 || f->http_status == 407)
    return diag("proxy-auth-required",
                apr_psprintf(p, "the proxy %s demands authentication (407 Proxy Authentication Required)",
                             f->proxy ? f->proxy : "in use"),
                "put the credentials in the proxy URL (https_proxy=http://USER:PASS@PROXY:PORT) or list the host in no_proxy");
  if (f->curl_code == CURLE_OK)
    return diag("ok", "connection verified", "");
  if (f->connect_status >= 300)
    return diag("proxy-refused",
                apr_psprintf(p, "the proxy %s refused the tunnel with status %ld", f->proxy ? f->proxy : "in use",
                             f->connect_status),
                "ask the proxy administrator to allow CONNECT to this host and port, or list the host in no_proxy");
  if (f->tls && f->tls->verify_error != 0)
    return diagnose_verify_error(p, f);
  switch (f->curl_code) {
  case CURLE_PEER_FAILED_VERIFICATION:
    if (f->tls && f->tls->certs->nelts > 0 && !leaf_matches_host(cert_at(f->tls, 0), f->host))
      return diag("name-mismatch",
                  apr_psprintf(p, "the certificate is not valid for '%s' (it names %s)", f->host,
                               joined_names(p, cert_at(f->tls, 0))),
                  "connect with a name the certificate lists, or reissue the certificate with this name in subjectAltName");
    return diag("certificate-invalid", apr_psprintf(p, "certificate rejected: %s", detail),
                "inspect the chain (trustapp-admin tls-fetch) and fix the certificate on the server");
  case CURLE_OPERATION_TIMEDOUT:
    return diag("timeout",
                apr_psprintf(p, "no %s within %ld ms (%s)",
                             f->tls && f->tls->certs->nelts ? "answer" : "connection/TLS handshake",
                             f->connect_timeout_ms, detail),
                "check host and port, firewalls and proxy settings (https_proxy/no_proxy), or raise --connect-timeout");
  case CURLE_COULDNT_RESOLVE_HOST:
    return diag("dns-failure", apr_psprintf(p, "cannot resolve '%s': %s", f->host, detail),
                "check the host name and this machine's DNS resolver");
  case CURLE_COULDNT_RESOLVE_PROXY:
    return diag("dns-failure", apr_psprintf(p, "cannot resolve the proxy: %s", detail),
                "check the https_proxy/http_proxy environment variables");
  case CURLE_COULDNT_CONNECT:
    return diag("connection-refused", apr_psprintf(p, "cannot connect: %s", detail),
                "check that the server listens on this host and port and that no firewall blocks it");
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
    return diag("local-tls-config", apr_psprintf(p, "local TLS configuration problem: %s", detail),
                "check the files given to --cacert, --cert and --cert-key (PEM, readable, matching key)");
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
    if (contains(detail, "certificate required") ||
        (!f->client_cert_given && f->tls && f->tls->client_cert_requested))
      return diag("client-cert-required",
                  apr_psprintf(p, "the server requires a client certificate (%s)", detail),
                  "pass the client certificate with --cert FILE --cert-key FILE (mutual TLS)");
    if (contains(detail, "unknown ca") || contains(detail, "bad certificate") ||
        contains(detail, "certificate unknown"))
      return diag("client-cert-rejected",
                  apr_psprintf(p, "the server rejected our client certificate (%s)", detail),
                  "use a client certificate issued by a CA the server trusts (SSLCACertificateFile)");
    if (contains(detail, "wrong version number") || contains(detail, "packet length too long"))
      return diag("not-tls", apr_psprintf(p, "the server does not speak TLS on this port (%s)", detail),
                  "use the HTTPS port, or http:// if the peer deliberately has no TLS");
    if (contains(detail, "protocol version") || contains(detail, "unsupported protocol") ||
        contains(detail, "no protocols available"))
      return diag("tls-version", apr_psprintf(p, "no common TLS version >= 1.2 (%s)", detail),
                  "enable TLS 1.2 or 1.3 on the server; older versions are refused on purpose");
    return diag("handshake-reset",
                apr_psprintf(p, "the connection was closed or reset during the TLS handshake (%s)", detail),
                "check that the port speaks TLS >= 1.2, whether the server wants a client certificate (--cert), "
                "and whether a firewall or TLS-inspecting proxy cuts the connection");
  default:
    return diag("network-error", apr_psprintf(p, "%s", detail),
                "check the URL, the network path and proxy settings");
  }
}

json_t *ta_tls_chain_json(const ta_tls_capture_t *cap)
{
  json_t *arr = json_array();
  for (int i = 0; cap && i < cap->certs->nelts; i++) {
    const ta_cert_info_t *ci = APR_ARRAY_IDX(cap->certs, i, ta_cert_info_t *);
    json_t *names = json_array();
    for (int j = 0; j < ci->names->nelts; j++)
      json_array_append_new(names, json_string(APR_ARRAY_IDX(ci->names, j, const char *)));
    json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:b}",
                                         "depth", ci->depth, "subject", ci->subject,
                                         "issuer", ci->issuer, "not_before", ci->not_before,
                                         "not_after", ci->not_after, "sha256", ci->sha256 ? ci->sha256 : "",
                                         "names", names, "self_issued", ci->self_issued));
  }
  return arr;
}

const char *ta_tls_chain_text(apr_pool_t *p, const ta_tls_capture_t *cap)
{
  if (cap == NULL || cap->certs->nelts == 0)
    return "no certificate was presented\n";
  const char *out = apr_psprintf(p, "certificate chain presented by the server (%d):\n", cap->certs->nelts);
  for (int i = 0; i < cap->certs->nelts; i++) {
    const ta_cert_info_t *ci = APR_ARRAY_IDX(cap->certs, i, ta_cert_info_t *);
    out = apr_pstrcat(p, out,
                      apr_psprintf(p, "  [%d] subject:  %s\n      issuer:   %s%s\n"
                                      "      valid:    %s .. %s\n      names:    %s\n"
                                      "      SHA-256:  %s\n",
                                   ci->depth, ci->subject, ci->issuer,
                                   ci->self_issued ? "  (self-issued)" : "", ci->not_before,
                                   ci->not_after, joined_names(p, ci),
                                   ci->sha256_colon ? ci->sha256_colon : "?"),
                      NULL);
  }
  return out;
}

const char *ta_tls_chain_pem(apr_pool_t *p, const ta_tls_capture_t *cap)
{
  const char *out = "";
  for (int i = 0; cap && i < cap->certs->nelts; i++) {
    const ta_cert_info_t *ci = APR_ARRAY_IDX(cap->certs, i, ta_cert_info_t *);
    out = apr_pstrcat(p, out, ci->pem ? ci->pem : "", NULL);
  }
  return out;
}

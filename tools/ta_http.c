/* libcurl transport for trustapp-admin. Verification cannot be switched
 * off: there is deliberately no --insecure. */
#include "config.h"
#include "ta_http.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <curl/curl.h>

#define MAX_HEADER_LINES 200

typedef struct {
  ta_cli_t *cli;
  ta_http_resp_t *resp;
  int header_lines;
  apr_size_t body_cap;
} transfer_t;

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
  transfer_t *t = userdata;
  size_t len = size * n;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    /* a new response (after 100-continue or a proxy CONNECT): start over */
    apr_table_clear(t->resp->headers);
    t->header_lines = 0;
    return len;
  }
  if (++t->header_lines > MAX_HEADER_LINES || len > 16384)
    return len;
  const char *colon = memchr(data, ':', len);
  if (colon == NULL)
    return len;
  const char *name = apr_pstrndup(t->cli->pool, data, (apr_size_t)(colon - data));
  const char *v = colon + 1, *end = data + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
    end--;
  /* hostile input: keep header text printable ASCII (terminal and JSON safe) */
  char *value = apr_pstrndup(t->cli->pool, v, (apr_size_t)(end - v));
  for (char *s = value; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
      *s = '?';
  for (char *s = (char *)name; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
      *s = '?';
  apr_table_add(t->resp->headers, name, value);
  return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
  transfer_t *t = userdata;
  size_t len = size * n;
  ta_http_resp_t *r = t->resp;
  size_t room = TA_HTTP_MAX_BODY - r->body_len;
  size_t take = len < room ? len : room;
  if (take < len)
    r->body_truncated = 1;
  if (take == 0)
    return len;
  if (r->body_len + take + 1 > t->body_cap) {
    apr_size_t cap = t->body_cap ? t->body_cap : 4096;
    while (cap < r->body_len + take + 1)
      cap *= 2;
    char *nb = apr_palloc(t->cli->pool, cap);
    if (r->body_len)
      memcpy(nb, r->body, r->body_len);
    r->body = nb;
    t->body_cap = cap;
  }
  memcpy(r->body + r->body_len, data, take);
  r->body_len += take;
  r->body[r->body_len] = '\0';
  return len;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *userdata)
{
  (void)curl;
  return ta_tls_capture_install(ssl_ctx, userdata) == 0 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

static const char *proxy_from_env(const char *url)
{
  const char *names[] = {strncmp(url, "https:", 6) == 0 ? "https_proxy" : "http_proxy",
                         strncmp(url, "https:", 6) == 0 ? "HTTPS_PROXY" : "HTTP_PROXY", "all_proxy",
                         "ALL_PROXY", NULL};
  for (size_t i = 0; names[i]; i++) {
    const char *v = getenv(names[i]);
    if (v && *v)
      return v;
  }
  return NULL;
}

/* The proxy URL without credentials, for messages. */
static const char *redact_proxy(apr_pool_t *p, const char *proxy)
{
  if (proxy == NULL)
    return NULL;
  const char *at = strrchr(proxy, '@');
  const char *scheme_end = strstr(proxy, "://");
  if (at == NULL)
    return proxy;
  return apr_pstrcat(p, scheme_end ? apr_pstrndup(p, proxy, (apr_size_t)(scheme_end - proxy + 3)) : "",
                     "***@", at + 1, NULL);
}

int ta_http_perform(ta_cli_t *c, const ta_http_req_t *req, ta_http_resp_t *resp)
{
  memset(resp, 0, sizeof *resp);
  resp->headers = apr_table_make(c->pool, 16);
  resp->tls = ta_tls_capture_make(c->pool);
  resp->body = apr_pstrdup(c->pool, "");

  CURLU *u = curl_url();
  char *host = NULL;
  if (u == NULL || curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    curl_url_cleanup(u);
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "give an absolute http:// or https:// URL",
                       "'%s' is not a valid URL", req->url);
  }
  resp->host = apr_pstrdup(c->pool, host);
  /* brackets of an IPv6 literal are not part of the name the certificate carries */
  if (resp->host[0] == '[') {
    size_t hl = strlen(resp->host);
    resp->host = apr_pstrndup(c->pool, resp->host + 1, hl >= 2 ? hl - 2 : 0);
  }
  curl_free(host);
  curl_url_cleanup(u);

  CURL *h = curl_easy_init();
  if (h == NULL)
    return ta_cli_fail(c, TA_EXIT_FAILED, "internal", NULL, "cannot initialise libcurl");
  char errbuf[CURL_ERROR_SIZE] = "";
  transfer_t t = {c, resp, 0, 0};
  struct curl_slist *hdrs = NULL;

  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, req->https_only ? "https" : "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  /* send the path exactly as signed */
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "trustapp-admin/" PACKAGE_VERSION);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, resp->tls);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->connect_timeout_ms + 30000L);
  if (c->cacert)
    curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
  if (c->client_cert) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (c->client_key)
    curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  if (req->connect_only)
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
  const char *method = req->method ? req->method : "GET";
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "GET") != 0 || req->body)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (req->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  for (int i = 0; req->headers && i < req->headers->nelts; i++)
    hdrs = curl_slist_append(hdrs, APR_ARRAY_IDX(req->headers, i, const char *));
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

  resp->sent_at = apr_time_now();
  CURLcode rc = curl_easy_perform(h);
  resp->received_at = apr_time_now();
  resp->curl_code = (int)rc;
  resp->curl_error = apr_pstrdup(c->pool, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &resp->connect_status);
  char *ip = NULL;
  if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
    resp->primary_ip = apr_pstrdup(c->pool, ip);
  if (rc == CURLE_OK && resp->tls->certs->nelts == 0) {
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci) {
      for (int i = 0; i < ci->num_of_certs; i++)
        for (struct curl_slist *s = ci->certinfo[i]; s; s = s->next)
          if (strncmp(s->data, "Cert:", 5) == 0)
            ta_tls_capture_add_pem(resp->tls, s->data + 5);
    }
  }
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);

  ta_net_facts_t *f = &resp->facts;
  f->host = resp->host;
  f->curl_code = resp->curl_code;
  f->curl_error = resp->curl_error;
  f->http_status = resp->status;
  f->connect_status = resp->connect_status;
  f->connect_timeout_ms = c->connect_timeout_ms;
  f->proxy = redact_proxy(c->pool, proxy_from_env(req->url));
  f->client_cert_given = c->client_cert != NULL;
  f->tls = resp->tls;
  ta_net_diagnosis_t d = ta_net_diagnose(c->pool, f);
  if (strcmp(d.token, "ok") == 0)
    return TA_EXIT_OK;
  return ta_cli_fail(c, TA_EXIT_NETWORK, d.token, d.fix, "%s", d.message);
}

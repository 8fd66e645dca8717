/* request: send one signed request and, when the server refuses it, name
 * the root cause from its TrustedApp-Error / TrustedApp-Error-Detail (or
 * legacy X-Seraph-Trusted-App-Error) headers, with the one-line fix. */
#include "ta_cli.h"
#include "ta_http.h"
#include "ta_sign.h"

#include <stdlib.h>
#include <string.h>

#include <apr_date.h>
#include <apr_strings.h>

#include "ta_error.h"
#include "ta_seraph.h"

#define SHOWN_BODY_BYTES 4096

static const ta_status_t all_codes[] = {
#define TA_X_CODE(e, n, tok, st, sum, fix) e,
  TA_ERROR_TABLE(TA_X_CODE)
#undef TA_X_CODE
};

/* "BAD_SIGNATURE;\t..." -> the status whose legacy twin it is. */
static int status_from_seraph(const char *value)
{
  if (value == NULL)
    return -1;
  size_t n = strcspn(value, ";");
  for (size_t i = 0; i < sizeof all_codes / sizeof all_codes[0]; i++) {
    const char *legacy = ta_seraph_legacy_error(all_codes[i]);
    if (all_codes[i] != TA_OK && legacy && strlen(legacy) == n && strncmp(legacy, value, n) == 0 &&
        strcmp(legacy, "SYSTEM") != 0)
      return (int)all_codes[i];
  }
  return -1;
}

/* First IPv4/IPv6-looking word after "address " in a detail text. */
static const char *address_in(apr_pool_t *p, const char *detail)
{
  const char *a = detail ? strstr(detail, "address ") : NULL;
  if (a == NULL)
    return NULL;
  a += 8;
  size_t n = strspn(a, "0123456789abcdefABCDEF.:");
  return n >= 2 ? apr_pstrndup(p, a, n) : NULL;
}

static const char *path_in(apr_pool_t *p, const char *detail)
{
  const char *a = detail ? strstr(detail, "path ") : NULL;
  if (a == NULL)
    return NULL;
  a += 5;
  return apr_pstrndup(p, a, strcspn(a, " "));
}

/* The first path segment of the URL as an --add-path suggestion. */
static const char *first_segment(apr_pool_t *p, const char *path)
{
  if (path == NULL || path[0] != '/')
    return "/";
  size_t n = strcspn(path + 1, "/?");
  return apr_pstrndup(p, path, n + 1);
}

static int diagnose_refusal(ta_cli_t *c, const ta_signed_req_t *s, const ta_http_resp_t *r,
                            long long skew_sec, int have_skew)
{
  const char *token = apr_table_get(r->headers, TA_ERROR_HEADER);
  const char *detail = apr_table_get(r->headers, TA_ERROR_DETAIL_HEADER);
  const char *seraph = apr_table_get(r->headers, "X-Seraph-Trusted-App-Error");
  int code = ta_error_from_token(token);
  if (code < 0)
    code = status_from_seraph(seraph);
  if (code <= 0) {
    if (r->status == 401 || r->status == 403)
      return ta_cli_fail(c, TA_EXIT_REFUSED, "refused-without-reason",
                         "check that the location is protected by mod_trustedapp (AuthType trusted-app) and "
                         "that no other module answered first; TrustedAppErrorDetail on shows details",
                         "the server answered %ld without a TrustedApp-Error header", r->status);
    return ta_cli_fail(c, TA_EXIT_REFUSED, "http-error", "see the response body and the server's error log",
                       "the server answered %ld", r->status);
  }
  ta_status_t st = (ta_status_t)code;
  const char *msg = ta_error_summary(st);
  const char *fix = ta_error_fix(st);
  const char *id = s->keyid ? s->keyid : "ID";
  switch (st) {
  case TA_E_UNKNOWN_APP:
    msg = apr_psprintf(c->pool, "the server has no application '%s'", id);
    fix = apr_psprintf(c->pool, "on the server: trustapp-admin add --public-key <this app's public key> --id %s "
                       "(or add --url <this app's base URL>)", id);
    break;
  case TA_E_APP_DISABLED:
    fix = apr_psprintf(c->pool, "on the server: trustapp-admin enable %s", id);
    break;
  case TA_E_CLOCK_PAST:
  case TA_E_CLOCK_FUTURE:
  case TA_E_EXPIRED:
    if (have_skew)
      msg = apr_psprintf(c->pool, "%s; the server's clock is %" APR_INT64_T_FMT " s %s this machine's (measured from its Date header)",
                         msg, (apr_int64_t)(skew_sec < 0 ? -skew_sec : skew_sec), skew_sec < 0 ? "behind" : "ahead of");
    else
      msg = apr_psprintf(c->pool, "%s; the server sent no Date header, so the offset could not be measured", msg);
    break;
  case TA_E_IP_NOT_ALLOWED: {
    const char *ip = address_in(c->pool, detail);
    if (ip) {
      msg = apr_psprintf(c->pool, "the server saw this request coming from %s, which application '%s' may not use",
                         ip, id);
      fix = apr_psprintf(c->pool, "on the server: trustapp-admin set %s --add-ip %s (or the proxy in front of this "
                         "client, if it is a trusted proxy there)", id, ip);
    } else {
      msg = apr_psprintf(c->pool, "%s (the server did not say which address it saw: TrustedAppErrorDetail on shows it)",
                         msg);
    }
    break;
  }
  case TA_E_PATH_NOT_ALLOWED: {
    const char *path = path_in(c->pool, detail);
    const char *req_path = strstr(s->url, "://") ? strchr(strstr(s->url, "://") + 3, '/') : NULL;
    msg = apr_psprintf(c->pool, "path %s is not allowed for application '%s'", path ? path : req_path ? req_path : "?", id);
    fix = apr_psprintf(c->pool, "on the server: trustapp-admin set %s --add-path %s", id,
                       first_segment(c->pool, path ? path : req_path));
    break;
  }
  case TA_E_BAD_SIGNATURE:
    /* the usual cause is a URL rewritten between here and the server:
     * show what was signed so it can be compared with the server's view */
    if (s->base)
      ta_out_textf(c, "\nsigned base (compare with the URL the server sees):\n%s\n", s->base);
    break;
  case TA_E_USER_DENIED:
    msg = apr_psprintf(c->pool, "application '%s' may not act as user '%s'", id,
                       ta_cli_opt(c, "user") ? ta_cli_opt(c, "user") : "?");
    break;
  default:
    break;
  }
  if (detail)
    json_object_set_new(c->result, "server_detail", json_string(detail));
  if (seraph)
    json_object_set_new(c->result, "seraph_error", json_string(seraph));
  json_object_set_new(c->result, "server_error", json_string(ta_error_token(st)));
  return ta_cli_fail(c, TA_EXIT_REFUSED, ta_error_token(st), fix, "%s%s%s", msg,
                     detail ? " -- server detail: " : "", detail ? detail : "");
}

static int run_request(ta_cli_t *c)
{
  ta_signed_req_t s;
  int rc = ta_sign_from_options(c, &s);
  if (rc != TA_EXIT_OK)
    return rc;
  ta_http_req_t req = {0};
  req.method = s.method;
  req.url = s.url;
  req.headers = apr_array_copy(c->pool, s.extra);
  apr_array_cat(req.headers, s.added);
  req.body = s.body;
  req.body_len = s.body_len;
  ta_http_resp_t r;
  rc = ta_http_perform(c, &req, &r);
  json_object_set_new(c->result, "url", json_string(s.url));
  json_object_set_new(c->result, "protocol", json_string(s.protocol));
  if (s.base)
    json_object_set_new(c->result, "signature_base", json_string(s.base));
  if (rc != TA_EXIT_OK) {
    json_object_set_new(c->result, "tls_chain", ta_tls_chain_json(r.tls));
    ta_out_textf(c, "%s", ta_tls_chain_text(c->pool, r.tls));
    return rc;
  }
  json_object_set_new(c->result, "status", json_integer(r.status));
  if (r.tls->tls_version) {
    json_object_set_new(c->result, "tls_version", json_string(r.tls->tls_version));
    json_object_set_new(c->result, "cipher", json_string(r.tls->cipher));
  }
  ta_out_textf(c, "HTTP %ld%s%s\n", r.status, r.tls->tls_version ? " over " : "",
               r.tls->tls_version ? r.tls->tls_version : "");
  json_t *hdrs = json_object();
  const apr_array_header_t *arr = apr_table_elts(r.headers);
  const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
  for (int i = 0; i < arr->nelts; i++) {
    json_object_set_new(hdrs, e[i].key, json_string(e[i].val));
    ta_out_textf(c, "%s: %s\n", e[i].key, e[i].val);
  }
  json_object_set_new(c->result, "headers", hdrs);
  /* Server clock offset: its Date against the middle of our exchange. */
  long long skew = 0;
  int have_skew = 0;
  const char *date = apr_table_get(r.headers, "Date");
  apr_time_t server_time = date ? apr_date_parse_http(date) : APR_DATE_BAD;
  if (server_time != APR_DATE_BAD) {
    apr_time_t mid = r.sent_at + (r.received_at - r.sent_at) / 2;
    skew = (long long)(apr_time_sec(server_time) - apr_time_sec(mid));
    have_skew = 1;
    json_object_set_new(c->result, "server_clock_offset_sec", json_integer(skew));
  }
  size_t shown = r.body_len < SHOWN_BODY_BYTES ? r.body_len : SHOWN_BODY_BYTES;
  json_t *body = json_stringn(r.body, shown);
  json_object_set_new(c->result, "body", body ? body : json_string("(not UTF-8)"));
  if (r.body_len) {
    char *safe = apr_pstrndup(c->pool, r.body, shown);
    for (char *p = safe; *p; p++)
      if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
        *p = '?';
    ta_out_textf(c, "\n%s%s\n", safe, r.body_len > shown || r.body_truncated ? "\n[... truncated]" : "");
  }
  if (r.status >= 400)
    return diagnose_refusal(c, &s, &r, skew, have_skew);
  return TA_EXIT_OK;
}

static const ta_opt_spec_t request_opts[] = {TA_SIGN_OPTS, {NULL, NULL, 0, NULL}};

const ta_cmd_t ta_cmd_request = {
  "request", "--key FILE --id ID --url URL [--method M] [--user U] [--body TEXT] [options]",
  "Send one signed request; show the status and answer, and on refusal the root cause and its fix.",
  request_opts, 0, 0, run_request,
  "trustapp-admin request --key self.key --id jira:1 --url https://wiki.example.com/rest/api/space --user alice"
};

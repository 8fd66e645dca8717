/* Seraph verifier over the registry, and the legacy error header. */
#include "ta_seraph.h"

#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "ta_digest.h"

/* About year 290,000: far beyond any clock, small enough that adding a
 * timeout (at most a day) or a skew to it in microseconds cannot overflow. */
#define MAX_CREATED_MS ((int64_t)1 << 53)

void ta_seraph_opts_init(ta_seraph_opts_t *o)
{
  memset(o, 0, sizeof(*o));
  o->allow_version3 = 1;
  o->check_time = 1;
  o->future_skew_sec = 900;
}

static const char *escape_for_log(apr_pool_t *p, const char *s)
{
  size_t n = strlen(s);
  char *out = apr_palloc(p, n * 4 + 1), *o = out;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c < 0x20 || *c >= 0x7f || *c == '\\' || *c == '"') {
      static const char hex[] = "0123456789abcdef";
      *o++ = '\\';
      *o++ = 'x';
      *o++ = hex[*c >> 4];
      *o++ = hex[*c & 15];
    } else {
      *o++ = (char)*c;
    }
  }
  *o = '\0';
  return out;
}

static ta_status_t version_allowed(const ta_seraph_opts_t *o, int v, const char **detail)
{
  if (v == 2 || (v == 3 && o->allow_version3))
    return TA_OK;
  if ((v == 0 || v == 1) && o->allow_insecure_versions)
    return TA_OK;
  if (v == 0 || v == 1)
    *detail = "Seraph protocol 0/1 is not bound to the URL and is disabled (TrustedAppSeraphInsecureVersions)";
  else if (v == 3)
    *detail = "Seraph protocol 3 is disabled here";
  else
    *detail = "unknown Seraph protocol version";
  return TA_E_SERAPH_PROTOCOL;
}

static apr_interval_time_t effective_timeout(apr_interval_time_t app_timeout,
                                             const ta_seraph_opts_t *o)
{
  apr_interval_time_t timeout = app_timeout;
  if (o->past_limit_sec > 0) {
    apr_interval_time_t cap = apr_time_from_sec(o->past_limit_sec);
    if (timeout <= 0 || timeout > cap)
      timeout = cap;
  }
  return timeout;
}

static ta_status_t check_time(apr_interval_time_t timeout, const ta_seraph_opts_t *o,
                              apr_time_t now, const ta_seraph_claim_t *c, const char **detail)
{
  if (!o->check_time)
    return TA_OK;
  if (timeout > 0 && c->created + timeout < now) {
    *detail = "certificate older than the application's timeout";
    return TA_E_CLOCK_PAST;
  }
  int skew = o->future_skew_sec < 0 ? 0 : o->future_skew_sec;
  if (c->created > now + apr_time_from_sec(skew)) {
    *detail = "certificate timestamp further in the future than the Seraph future skew allows";
    return TA_E_CLOCK_FUTURE;
  }
  return TA_OK;
}

static const char *replay_key(apr_pool_t *p, const char *app_id, const char *created,
                              const char *url)
{
  unsigned char md[TA_DIGEST_MAX_LEN];
  size_t mdlen = 0;
  const char *msg = apr_pstrcat(p, created, "\n", url, NULL);
  if (ta_digest_once(TA_DIGEST_SHA256, msg, strlen(msg), md, &mdlen) != TA_OK)
    return NULL;
  char *hex = apr_palloc(p, mdlen * 2 + 1);
  for (size_t i = 0; i < mdlen; i++)
    apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return apr_pstrcat(p, "seraph:", app_id, ":", hex, NULL);
}

/* Everything that depends on one public key: Magic, certificate, time,
 * URL signature. Fills the claim on success (and as far as it got). */
static ta_status_t verify_key(apr_pool_t *p, struct evp_pkey_st *pk,
                              const ta_seraph_request_t *req, const ta_msg_t *m,
                              const ta_seraph_opts_t *o, apr_time_t now,
                              apr_interval_time_t timeout, ta_seraph_claim_t *c,
                              const char **detail)
{
  ta_seraph_cert_t cert;
  ta_status_t st = ta_seraph_decode(p, pk, req, &cert, detail);
  if (st != TA_OK)
    return st;
  c->created_ms = cert.created_ms;
  /* Clamped far beyond any real clock so time arithmetic cannot overflow. */
  c->created = cert.created_ms > MAX_CREATED_MS ? apr_time_from_msec(MAX_CREATED_MS)
                                                : apr_time_from_msec(cert.created_ms);
  c->clock_offset_sec = (long)((c->created - now) / APR_USEC_PER_SEC);
  c->user = cert.user;
  if ((st = check_time(timeout, o, now, c, detail)) != TA_OK)
    return st;
  if (req->signature) {
    /* Protocols 0/1 may carry a signature; Java then checks it as v2. */
    if (!c->url)
      c->url = ta_seraph_expected_url(p, m, o->base_url);
    st = c->url ? ta_seraph_check_signature(pk, req->version == 3 ? 3 : 2, &cert, c->url,
                                            req->signature, req->signature_len)
                : TA_E_SERAPH_URL;
    if (st != TA_OK) {
      *detail = "URL signature does not verify over the reconstructed URL";
      return st;
    }
  }
  if (req->version >= 2) {
    c->replay_key = replay_key(p, req->app_id, cert.created_str, c->url);
    apr_time_t until = timeout > 0 ? c->created + timeout : now + apr_time_from_sec(86400);
    c->replay_expires = until > now ? until : now + APR_USEC_PER_SEC;
  }
  *detail = NULL;
  return TA_OK;
}

static ta_status_t prepare_url(apr_pool_t *p, const ta_seraph_request_t *req,
                               const ta_msg_t *m, const ta_seraph_opts_t *o,
                               ta_seraph_claim_t *c, const char **detail)
{
  if (req->version < 2)
    return TA_OK;
  c->url = ta_seraph_expected_url(p, m, o->base_url);
  if (!c->url) {
    *detail = "cannot reconstruct the request URL (bad TrustedAppSeraphBaseURL or oversize)";
    return TA_E_SERAPH_URL;
  }
  return TA_OK;
}

/* Rank of a per-key failure: the most advanced one is reported when no
 * registered key verifies. */
static int failure_rank(ta_status_t st)
{
  switch (st) {
  case TA_E_SERAPH_URL: return 3;
  case TA_E_SERAPH_CERT: return 2;
  case TA_E_SERAPH_MAGIC: return 1;
  default: return 0;
  }
}

static ta_status_t verify_parsed(apr_pool_t *p, const ta_app_t *app,
                                 const ta_seraph_request_t *req, const ta_msg_t *m,
                                 const ta_seraph_opts_t *o, apr_time_t now,
                                 ta_seraph_claim_t *c, const char **detail)
{
  ta_status_t st;
  if (!app) {
    *detail = "no registered application has this id";
    return TA_E_UNKNOWN_APP;
  }
  c->app = app;
  if (!app->enabled) {
    *detail = "application is disabled";
    return TA_E_APP_DISABLED;
  }
  if (!(app->protocols & TA_APP_PROTO_SERAPH)) {
    *detail = "application is not registered for the Seraph protocol";
    return TA_E_SERAPH_PROTOCOL;
  }
  if ((st = prepare_url(p, req, m, o, c, detail)) != TA_OK)
    return st;
  apr_interval_time_t timeout = effective_timeout(app->timeout, o);
  ta_status_t worst = TA_E_NO_VALID_KEY;
  const char *worst_detail = "no RSA key of this application is valid now";
  for (size_t i = 0; i < app->n_keys; i++) {
    const ta_app_key_t *k = &app->keys[i];
    struct evp_pkey_st *pk = k->key ? (struct evp_pkey_st *)ta_key_evp_pkey(k->key) : NULL;
    if (!pk || !EVP_PKEY_is_a(pk, "RSA") || !ta_app_key_valid_at(k, now))
      continue;
    const char *d = NULL;
    st = verify_key(p, pk, req, m, o, now, timeout, c, &d);
    if (st == TA_OK) {
      c->key = k;
      c->key_index = i;
      *detail = NULL;
      return TA_OK;
    }
    if (failure_rank(st) == 0) {
      *detail = d;  /* time or user: the key was right */
      return st;
    }
    if (failure_rank(st) >= failure_rank(worst)) {
      worst = st;
      worst_detail = d;
    }
  }
  *detail = worst_detail;
  return worst;
}

/* Shared start of the three entry points: clear the outputs, default the
 * options, parse the headers and gate the protocol version. The claim keeps
 * the (escaped) app id and version even when this fails, for the log. */
static ta_status_t begin_verify(apr_pool_t *p, const ta_msg_t *m,
                                const ta_seraph_opts_t **opts, ta_seraph_opts_t *defaults,
                                ta_seraph_request_t *req, ta_seraph_claim_t *out,
                                const char **detail)
{
  *detail = NULL;
  memset(out, 0, sizeof(*out));
  if (!*opts) {
    ta_seraph_opts_init(defaults);
    *opts = defaults;
  }
  ta_status_t st = ta_seraph_parse(p, m, req, detail);
  out->version = req->version;
  out->version_str = req->version_str ? escape_for_log(p, req->version_str) : NULL;
  out->app_id = req->app_id ? escape_for_log(p, req->app_id) : NULL;
  if (st != TA_OK)
    return st;
  return version_allowed(*opts, req->version, detail);
}

ta_status_t ta_seraph_verify_pkey(apr_pool_t *p, struct evp_pkey_st *pub,
                                  apr_interval_time_t timeout, const ta_msg_t *m,
                                  const ta_seraph_opts_t *opts, apr_time_t now,
                                  ta_seraph_claim_t *out, const char **detail)
{
  const char *dummy;
  ta_seraph_opts_t defaults;
  ta_seraph_request_t req;
  ta_status_t st;
  if (!detail)
    detail = &dummy;
  if ((st = begin_verify(p, m, &opts, &defaults, &req, out, detail)) != TA_OK
      || (st = prepare_url(p, &req, m, opts, out, detail)) != TA_OK)
    return st;
  return verify_key(p, pub, &req, m, opts, now, effective_timeout(timeout, opts), out, detail);
}

ta_status_t ta_seraph_verify_app(apr_pool_t *p, const ta_app_t *app,
                                 const ta_msg_t *m, const ta_seraph_opts_t *opts,
                                 apr_time_t now, ta_seraph_claim_t *out,
                                 const char **detail)
{
  const char *dummy;
  ta_seraph_opts_t defaults;
  ta_seraph_request_t req;
  ta_status_t st;
  if (!detail)
    detail = &dummy;
  if ((st = begin_verify(p, m, &opts, &defaults, &req, out, detail)) != TA_OK)
    return st;
  if (app && strcmp(app->id, req.app_id) != 0) {
    *detail = "application id differs from the one given";
    return TA_E_UNKNOWN_APP;
  }
  return verify_parsed(p, app, &req, m, opts, now, out, detail);
}

ta_status_t ta_seraph_verify(apr_pool_t *p, const ta_registry_t *reg,
                             const ta_msg_t *m, const ta_seraph_opts_t *opts,
                             apr_time_t now, ta_seraph_claim_t *out,
                             const char **detail)
{
  const char *dummy;
  ta_seraph_opts_t defaults;
  ta_seraph_request_t req;
  ta_status_t st;
  if (!detail)
    detail = &dummy;
  if ((st = begin_verify(p, m, &opts, &defaults, &req, out, detail)) != TA_OK)
    return st;
  const ta_app_t *app = reg ? ta_registry_find(reg, req.app_id) : NULL;
  return verify_parsed(p, app, &req, m, opts, now, out, detail);
}

/* ---- legacy error header ------------------------------------------------ */

typedef struct {
  const char *code;
  const char *tmpl;
} legacy_t;

static legacy_t legacy_for(ta_status_t st)
{
  legacy_t l = {"SYSTEM", "Exception: {0} occurred serving request for application: {1}"};
  switch (st) {
  case TA_E_SERAPH_APP_ID_MISSING:
    l.code = "APP_ID_NOT_FOUND"; l.tmpl = "Application ID not found in request"; break;
  case TA_E_SERAPH_KEY_MISSING:
    l.code = "SECRET_KEY_NOT_FOUND"; l.tmpl = "Secret Key not found in request"; break;
  case TA_E_SERAPH_MAGIC_MISSING:
    l.code = "MAGIC_NUMBER_NOT_FOUND"; l.tmpl = "Magic Number not found in request"; break;
  case TA_E_SERAPH_PROTOCOL:
    l.code = "BAD_PROTOCOL_VERSION"; l.tmpl = "Unsupported protocol version: {0}. required {1}"; break;
  case TA_E_UNKNOWN_APP:
  case TA_E_APP_DISABLED:
    l.code = "APP_UNKNOWN"; l.tmpl = "Unknown Application: {0}"; break;
  case TA_E_SERAPH_MAGIC:
  case TA_E_SERAPH_CERT:
  case TA_E_NO_VALID_KEY:
    l.code = "BAD_MAGIC"; l.tmpl = "Unable to decrypt certificate {0} for application {1}"; break;
  case TA_E_CLOCK_PAST:
    l.code = "OLD_CERT"; l.tmpl = "Certificate too old. Application: {0} Certificate Created: {1} Timeout: {2}"; break;
  case TA_E_IP_NOT_ALLOWED:
    l.code = "BAD_REMOTE_IP"; l.tmpl = "Request not allowed from IP address: {0}"; break;
  case TA_E_PROXY_CHAIN:
    l.code = "BAD_XFORWARD_IP"; l.tmpl = "Request not allowed from IP address: {0}"; break;
  case TA_E_PATH_NOT_ALLOWED:
    l.code = "BAD_URL"; l.tmpl = "Request not allowed to access URL: {0}"; break;
  case TA_E_SERAPH_URL:
    l.code = "BAD_SIGNATURE"; l.tmpl = "Bad signature for URL: {0}"; break;
  case TA_E_SERAPH_SIGNATURE_MISSING:
    l.code = "BAD_SIGNATURE"; l.tmpl = "Missing signature in a v2 request"; break;
  case TA_E_USER_INVALID:
  case TA_E_USER_MISSING:
    l.code = "USER_UNKNOWN"; l.tmpl = "Unknown User: {0}"; break;
  case TA_E_USER_DENIED:
  case TA_E_APP_NOT_AUTHORIZED:
    l.code = "PERMISSION_DENIED"; l.tmpl = "Permission Denied"; break;
  default:
    break;
  }
  return l;
}

const char *ta_seraph_legacy_error(ta_status_t st)
{
  return legacy_for(st).code;
}

/* One JSON string as atlassian's JSONList writes it, made safe for a header
 * line: invalid UTF-8 bytes are escaped too. */
static void json_string(apr_array_header_t *buf, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *c = (const unsigned char *)(s ? s : "");
  char prev = 0;
  *(char *)apr_array_push(buf) = '"';
  while (*c) {
    unsigned cp = *c;
    size_t n = 1;
    if (cp >= 0x80) {
      n = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : cp >= 0xc2 ? 2 : 0;
      int ok = n > 1;
      unsigned v = n == 2 ? (cp & 0x1f) : n == 3 ? (cp & 0x0f) : (cp & 0x07);
      for (size_t k = 1; ok && k < n; k++) {
        if ((c[k] & 0xc0) != 0x80)
          ok = 0;
        else
          v = (v << 6) | (c[k] & 0x3f);
      }
      if (!ok || v > 0x10ffff) {
        n = 1;
        cp = 0xfffd;  /* what Java's decoder would have made of it */
      } else {
        cp = v;
      }
    }
    const char *esc = NULL;
    char u[7];
    if (cp == '"') esc = "\\\"";
    else if (cp == '\\') esc = "\\\\";
    else if (cp == '/' && prev == '<') esc = "\\/";
    else if (cp == '\b') esc = "\\b";
    else if (cp == '\t') esc = "\\t";
    else if (cp == '\n') esc = "\\n";
    else if (cp == '\f') esc = "\\f";
    else if (cp == '\r') esc = "\\r";
    else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || (cp >= 0x2000 && cp < 0x2100)
             || cp == 0xfffd) {
      u[0] = '\\'; u[1] = 'u';
      u[2] = hex[(cp >> 12) & 15]; u[3] = hex[(cp >> 8) & 15];
      u[4] = hex[(cp >> 4) & 15]; u[5] = hex[cp & 15]; u[6] = '\0';
      esc = u;
    }
    if (esc) {
      for (; *esc; esc++)
        *(char *)apr_array_push(buf) = *esc;
    } else {
      for (size_t k = 0; k < n; k++)
        *(char *)apr_array_push(buf) = (char)c[k];
    }
    prev = (char)(cp < 0x80 ? cp : 0);
    c += n;
  }
  *(char *)apr_array_push(buf) = '"';
}

static const char *java_date(apr_pool_t *p, apr_time_t t)
{
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  apr_time_exp_t e;
  if (apr_time_exp_gmt(&e, t) != APR_SUCCESS)
    return "";
  return apr_psprintf(p, "%s %s %02d %02d:%02d:%02d UTC %d", days[e.tm_wday], months[e.tm_mon],
                      e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec, e.tm_year + 1900);
}

const char *ta_seraph_error_header(apr_pool_t *p, ta_status_t st,
                                   const ta_seraph_claim_t *claim,
                                   const char *remote_ip, const char *path)
{
  legacy_t l = legacy_for(st);
  const char *app_id = claim && claim->app ? claim->app->id : claim ? claim->app_id : NULL;
  const char *params[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (!app_id)
    app_id = "";
  switch (st) {
  case TA_E_SERAPH_PROTOCOL:
    params[n++] = claim && claim->version_str ? claim->version_str : claim ? apr_itoa(p, claim->version) : "";
    params[n++] = "2";
    break;
  case TA_E_UNKNOWN_APP:
  case TA_E_APP_DISABLED:
    params[n++] = app_id;
    break;
  case TA_E_SERAPH_MAGIC:
  case TA_E_NO_VALID_KEY:
    params[n++] = "public key";
    params[n++] = app_id;
    break;
  case TA_E_SERAPH_CERT:
    params[n++] = "secret key";
    params[n++] = app_id;
    break;
  case TA_E_CLOCK_PAST:
    params[n++] = app_id;
    params[n++] = claim ? java_date(p, claim->created) : "";
    params[n++] = claim && claim->app ? apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                     (apr_int64_t)apr_time_as_msec(claim->app->timeout))
                                      : "0";
    break;
  case TA_E_IP_NOT_ALLOWED:
  case TA_E_PROXY_CHAIN:
    params[n++] = remote_ip ? remote_ip : "";
    break;
  case TA_E_PATH_NOT_ALLOWED:
    params[n++] = path ? path : "";
    break;
  case TA_E_SERAPH_URL:
    params[n++] = claim && claim->url ? claim->url : "";
    break;
  case TA_E_USER_INVALID:
  case TA_E_USER_MISSING:
    params[n++] = claim && claim->user ? claim->user : "";
    break;
  case TA_E_SERAPH_APP_ID_MISSING:
  case TA_E_SERAPH_KEY_MISSING:
  case TA_E_SERAPH_MAGIC_MISSING:
  case TA_E_SERAPH_SIGNATURE_MISSING:
  case TA_E_USER_DENIED:
  case TA_E_APP_NOT_AUTHORIZED:
    break;
  default:
    params[n++] = ta_error_token(st);
    params[n++] = app_id;
    break;
  }
  apr_array_header_t *buf = apr_array_make(p, 256, 1);
  const char *head = apr_pstrcat(p, l.code, ";\t", l.tmpl, ";\t[", NULL);
  for (const char *c = head; *c; c++)
    *(char *)apr_array_push(buf) = *c;
  for (size_t i = 0; i < n; i++) {
    if (i)
      *(char *)apr_array_push(buf) = ',';
    json_string(buf, params[i]);
  }
  *(char *)apr_array_push(buf) = ']';
  *(char *)apr_array_push(buf) = '\0';
  return buf->elts;
}

const char *ta_seraph_error_header_msg(apr_pool_t *p, ta_status_t st, const char *app_id,
                                       const ta_msg_t *m, const char *base_url,
                                       const char *remote_ip, const char *path)
{
  ta_seraph_claim_t c;
  memset(&c, 0, sizeof(c));
  c.app_id = app_id ? escape_for_log(p, app_id) : NULL;
  if (m && m->fields) {
    ta_seraph_request_t req;
    const char *detail;
    (void)ta_seraph_parse(p, m, &req, &detail);
    c.version = req.version;
    if (req.version_str)
      c.version_str = escape_for_log(p, req.version_str);
    if (!c.app_id && req.app_id)
      c.app_id = escape_for_log(p, req.app_id);
    if (st == TA_E_SERAPH_URL)
      c.url = ta_seraph_expected_url(p, m, base_url);
  }
  return ta_seraph_error_header(p, st, &c, remote_ip, path);
}

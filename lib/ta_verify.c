/* The policy engine's entry point and the steps shared by every protocol.
 * Protocol-specific credential checks live in ta_verify_native.c and
 * ta_verify_seraph.c; the client-certificate identification is here
 * because it has no credential of its own beyond the TLS layer's. */
#include "ta_verify_int.h"

#include <string.h>

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "ta_digest.h"
#include "ta_seraph_codec.h"
#include "ta_users.h"

#define TA_VERIFY_LOG_PATH_MAX 256

void ta_policy_init(ta_policy_t *pol)
{
  memset(pol, 0, sizeof(*pol));
  pol->protocols = TA_PROTO_NATIVE;
  pol->future_skew_sec = TA_DEFAULT_FUTURE_SKEW_SEC;
  pol->seraph_future_skew_sec = TA_SERAPH_FUTURE_SKEW_SEC;
  pol->replay_protection = 1;
  pol->require_user = 1;
  pol->user_header = TA_DEFAULT_USER_HEADER;
  pol->signature_label = TA_DEFAULT_SIGNATURE_LABEL;
}

ta_status_t ta_verify_replay_id(const ta_policy_t *pol, const void *record, size_t len,
                                unsigned char id[TA_VERDICT_REPLAY_ID_LEN])
{
  size_t id_len = 0;
  if (pol->replay_id) {
    pol->replay_id(record, len, id);
    return TA_OK;
  }
  if (ta_digest_once(TA_DIGEST_SHA256, record, len, id, &id_len) != TA_OK
      || id_len != TA_VERDICT_REPLAY_ID_LEN)
    return TA_E_INTERNAL;
  return TA_OK;
}

ta_status_t ta_verify_fail(ta_verdict_t *out, ta_status_t st, const char *detail)
{
  out->status = st;
  out->detail = detail ? detail : ta_error_summary(st);
  return st;
}

static int needs_escape(unsigned char c)
{
  return c < 0x20 || c >= 0x7f || c == '\\' || c == '\'' || c == '"';
}

static const char *log_text(apr_pool_t *p, const char *s, size_t max)
{
  static const char hex[] = "0123456789abcdef";
  if (s == NULL)
    return "(none)";
  size_t len = strnlen(s, max + 1);
  int truncated = len > max;
  if (truncated)
    len = max;
  size_t clean = 0;
  while (clean < len && needs_escape((unsigned char)s[clean]) == 0)
    clean++;
  if (clean == len && !truncated)
    return s;   /* nothing to escape: the text itself (callers never modify it) */
  char *buf = apr_palloc(p, len * 4 + 4);
  memcpy(buf, s, clean);   /* the prefix already known clean */
  size_t n = clean;
  for (size_t i = clean; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (needs_escape(c)) {
      buf[n++] = '\\';
      buf[n++] = 'x';
      buf[n++] = hex[c >> 4];
      buf[n++] = hex[c & 15];
    } else {
      buf[n++] = (char)c;
    }
  }
  if (truncated) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
  return buf;
}

const char *ta_verify_log_id(apr_pool_t *p, const char *id)
{
  return id ? log_text(p, id, TA_VERIFY_LOG_ID_MAX) : NULL;
}

apr_interval_time_t ta_verify_age_limit(const ta_app_t *app, const ta_policy_t *pol, int must_bound)
{
  apr_interval_time_t limit = app->timeout;
  if (pol->past_limit_sec > 0) {
    apr_interval_time_t cap = apr_time_from_sec(pol->past_limit_sec);
    if (limit <= 0 || limit > cap)
      limit = cap;
  }
  if (limit <= 0 && must_bound)
    limit = (apr_interval_time_t)TA_REGISTRY_DEFAULT_TIMEOUT_MS * 1000;
  return limit;
}

ta_status_t ta_verify_clock(apr_pool_t *p, int64_t created, int has_expires, int64_t expires,
                            apr_interval_time_t limit_usec, int future_skew_sec,
                            apr_time_t now, ta_verdict_t *out)
{
  /* Whole seconds on both sides, so "exactly at the limit" is well defined. */
  int64_t now_sec = (int64_t)apr_time_sec(now);
  out->clock_offset_sec = (long)(created - now_sec);
  if (created > now_sec + (future_skew_sec > 0 ? future_skew_sec : 0))
    return ta_verify_fail(out, TA_E_CLOCK_FUTURE,
                          apr_psprintf(p, "created is %" APR_INT64_T_FMT " s ahead of the server clock "
                                       "(tolerance %d s)", created - now_sec, future_skew_sec));
  if (limit_usec > 0 && (now_sec - created) * APR_USEC_PER_SEC > limit_usec)
    return ta_verify_fail(out, TA_E_CLOCK_PAST,
                          apr_psprintf(p, "created is %" APR_INT64_T_FMT " s old, the limit is %"
                                       APR_INT64_T_FMT " ms", now_sec - created,
                                       (int64_t)(limit_usec / 1000)));
  if (has_expires && expires < now_sec)
    return ta_verify_fail(out, TA_E_EXPIRED,
                          apr_psprintf(p, "expired %" APR_INT64_T_FMT " s ago", now_sec - expires));
  return TA_OK;
}

static int conn_has_cert(const ta_conn_t *conn)
{
  return conn->client_cert_sha256 != NULL || conn->client_cert_subject != NULL;
}

/* The connection's verified certificate is the one bound to app: by
 * fingerprint, or by subject (and issuer when registered). */
static int cert_matches_app(const ta_app_t *app, const ta_conn_t *conn)
{
  if (app->client_cert_sha256)
    return conn->client_cert_sha256
           && apr_cstr_casecmp(app->client_cert_sha256, conn->client_cert_sha256) == 0;
  if (app->client_cert_subject)
    return conn->client_cert_subject && strcmp(app->client_cert_subject, conn->client_cert_subject) == 0
           && (app->client_cert_issuer == NULL
               || (conn->client_cert_issuer && strcmp(app->client_cert_issuer, conn->client_cert_issuer) == 0));
  return 0;
}

static const char *cert_description(apr_pool_t *p, const ta_conn_t *conn)
{
  if (conn->client_cert_sha256)
    return apr_pstrcat(p, "sha256 ", log_text(p, conn->client_cert_sha256, 64), NULL);
  return apr_pstrcat(p, "subject '", log_text(p, conn->client_cert_subject, 256), "' issuer '",
                     log_text(p, conn->client_cert_issuer, 256), "'", NULL);
}

static int path_allowed(const ta_path_set_t *set, const char *raw, const char *norm, int raw_mode)
{
  return raw_mode ? ta_path_set_match_raw(set, raw) : ta_path_set_match(set, norm);
}

ta_status_t ta_verify_policy(apr_pool_t *p, const ta_policy_t *pol, const ta_msg_t *msg,
                             const ta_conn_t *conn, const ta_app_t *app, const char *user,
                             int empty_allows_all, int raw_paths, int check_client_cert,
                             ta_verdict_t *out)
{
  /* Client address: the address the caller established, or every hop. */
  if (!(empty_allows_all && app->n_ip == 0)) {
    if (conn->n_hops > 0) {
      for (size_t i = 0; i < conn->n_hops; i++)
        if (!ta_ip_set_match(app->ips, conn->hops[i]))
          return ta_verify_fail(out, TA_E_IP_NOT_ALLOWED,
                                apr_psprintf(p, "address %s (hop %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
                                             ") is not allowed for application '%s'",
                                             log_text(p, conn->hops[i], TA_IP_MAX_TEXT), i + 1,
                                             conn->n_hops, ta_verify_log_id(p, app->id)));
    } else if (!ta_ip_set_match(app->ips, conn->client_ip)) {
      return ta_verify_fail(out, TA_E_IP_NOT_ALLOWED,
                            apr_psprintf(p, "address %s is not allowed for application '%s'%s",
                                         log_text(p, conn->client_ip, TA_IP_MAX_TEXT),
                                         ta_verify_log_id(p, app->id),
                                         app->n_ip == 0 ? " (it has no IP patterns)" : ""));
    }
  }

  /* Path: always normalisable, then the application's and the location's
   * prefixes must both allow it. */
  const char *norm = NULL;
  if (ta_path_normalize(p, msg->path, &norm) != TA_OK)
    return ta_verify_fail(out, TA_E_PATH_NOT_ALLOWED,
                          apr_psprintf(p, "path %s is refused: encoded '/' or '\\', control characters, "
                                       "a bad %%-escape or '..' above the root",
                                       log_text(p, msg->path, TA_VERIFY_LOG_PATH_MAX)));
  if (!(empty_allows_all && app->n_path == 0) && !path_allowed(app->paths, msg->path, norm, raw_paths))
    return ta_verify_fail(out, TA_E_PATH_NOT_ALLOWED,
                          apr_psprintf(p, "path %s is outside the prefixes of application '%s'%s",
                                       log_text(p, raw_paths ? msg->path : norm, TA_VERIFY_LOG_PATH_MAX),
                                       ta_verify_log_id(p, app->id), app->n_path == 0 ? " (it has none)" : ""));
  if (pol->location_paths && !path_allowed(pol->location_paths, msg->path, norm, raw_paths))
    return ta_verify_fail(out, TA_E_PATH_NOT_ALLOWED,
                          apr_psprintf(p, "path %s is outside this location's prefixes",
                                       log_text(p, raw_paths ? msg->path : norm, TA_VERIFY_LOG_PATH_MAX)));

  /* Acting user. */
  if (user == NULL) {
    if (pol->require_user)
      return ta_verify_fail(out, TA_E_USER_MISSING,
                            apr_psprintf(p, "no acting user asserted (%s)",
                                         out->protocol && strcmp(out->protocol, "seraph") == 0
                                         ? "empty certificate user"
                                         : pol->user_header ? pol->user_header : TA_DEFAULT_USER_HEADER));
  } else {
    ta_status_t st = ta_user_check(app->users, user);
    if (st == TA_E_USER_INVALID)
      return ta_verify_fail(out, st, apr_psprintf(p, "user name %s is malformed (empty, over %d bytes, "
                                                  "control characters or invalid UTF-8)",
                                                  log_text(p, user, 64), TA_USER_MAX_LEN));
    if (st != TA_OK)
      return ta_verify_fail(out, st, apr_psprintf(p, "application '%s' may not act as user '%s'",
                                                  ta_verify_log_id(p, app->id), log_text(p, user, 64)));
  }

  /* Transport. */
  if (pol->require_tls && !conn->is_tls)
    return ta_verify_fail(out, TA_E_TLS_REQUIRED, "this location requires TLS");
  if (check_client_cert && pol->require_client_cert) {
    if (!conn_has_cert(conn))
      return ta_verify_fail(out, TA_E_CLIENT_CERT_MISSING,
                            apr_psprintf(p, "application '%s' must present its client certificate",
                                         ta_verify_log_id(p, app->id)));
    if (app->client_cert_sha256 == NULL && app->client_cert_subject == NULL)
      return ta_verify_fail(out, TA_E_CLIENT_CERT_MISMATCH,
                            apr_psprintf(p, "application '%s' has no registered client certificate",
                                         ta_verify_log_id(p, app->id)));
    if (!cert_matches_app(app, conn))
      return ta_verify_fail(out, TA_E_CLIENT_CERT_MISMATCH,
                            apr_psprintf(p, "client certificate %s is not the one registered for "
                                         "application '%s'", cert_description(p, conn),
                                         ta_verify_log_id(p, app->id)));
  }
  out->user = user;
  return TA_OK;
}

/* The client certificate alone identifies the application; the user
 * header is then taken as sent (the TLS channel is the authentication). */
static ta_status_t verify_mtls(apr_pool_t *p, const ta_registry_t *reg, const ta_policy_t *pol,
                               const ta_msg_t *msg, const ta_conn_t *conn, ta_verdict_t *out)
{
  out->protocol = "mtls";
  const ta_app_t *app = NULL;
  if (conn->client_cert_sha256)
    app = ta_registry_find_by_cert(reg, conn->client_cert_sha256);
  /* Subject bindings have no index in the registry; they are rare, and
   * this runs only for certificate-only requests. */
  for (size_t i = 0, n = ta_registry_count(reg); app == NULL && conn->client_cert_subject && i < n; i++) {
    const ta_app_t *candidate = ta_registry_app(reg, i);
    if (candidate->client_cert_sha256 == NULL && cert_matches_app(candidate, conn))
      app = candidate;
  }
  if (app == NULL)
    return ta_verify_fail(out, TA_E_CLIENT_CERT_UNKNOWN,
                          apr_psprintf(p, "no application is registered for client certificate %s",
                                       cert_description(p, conn)));
  out->app = app;
  out->claimed_app_id = ta_verify_log_id(p, app->id);
  if (!app->enabled)
    return ta_verify_fail(out, TA_E_APP_DISABLED,
                          apr_psprintf(p, "application '%s' is disabled", out->claimed_app_id));
  if (!(app->protocols & TA_APP_PROTO_MTLS))
    return ta_verify_fail(out, TA_E_APP_NOT_AUTHORIZED,
                          apr_psprintf(p, "application '%s' is not registered for client-certificate "
                                       "identification (protocols)", out->claimed_app_id));
  const char *user = NULL;
  ta_status_t st = ta_verify_user_header(p, pol, msg, &user, out);
  if (st != TA_OK)
    return st;
  st = ta_verify_policy(p, pol, msg, conn, app, user, 0, 0, 0, out);
  if (st == TA_OK)
    out->status = TA_OK;
  return st;
}

ta_status_t ta_verify_user_lines(apr_pool_t *p, const ta_policy_t *pol, const char *value, int n,
                                 const char **user, ta_verdict_t *out)
{
  *user = NULL;
  if (n > 1)
    return ta_verify_fail(out, TA_E_USER_INVALID,
                          apr_psprintf(p, "%d %s header lines: assert one user", n,
                                       pol->user_header ? pol->user_header : TA_DEFAULT_USER_HEADER));
  *user = n == 1 ? value : NULL;
  return TA_OK;
}

ta_status_t ta_verify_user_header(apr_pool_t *p, const ta_policy_t *pol, const ta_msg_t *msg,
                                  const char **user, ta_verdict_t *out)
{
  int n = 0;
  const char *value = ta_msg_field_lines(p, msg, pol->user_header ? pol->user_header
                                                                  : TA_DEFAULT_USER_HEADER, &n);
  return ta_verify_user_lines(p, pol, value, n, user, out);
}

ta_status_t ta_verify_request(apr_pool_t *p, const ta_registry_t *reg,
                              const ta_policy_t *pol, const ta_msg_t *msg,
                              const ta_conn_t *conn, apr_time_t now,
                              ta_verdict_t *out)
{
  memset(out, 0, sizeof(*out));
  if (pol == NULL || msg == NULL || conn == NULL || msg->path == NULL)
    return ta_verify_fail(out, TA_E_INTERNAL, "policy engine called without a request view");
  if (reg == NULL)
    return ta_verify_fail(out, TA_E_CONFIG, "no registry is loaded");

  unsigned protocols = pol->protocols ? pol->protocols : TA_PROTO_NATIVE;
  int has_native = ta_msg_has_field(msg, "Signature-Input") || ta_msg_has_field(msg, "Signature");
  /* Seraph headers only matter when no native signature is verified. */
  int has_seraph = !(has_native && (protocols & TA_PROTO_NATIVE)) && ta_seraph_present(msg);

  ta_status_t st;
  if (has_native && (protocols & TA_PROTO_NATIVE))
    st = ta_verify_native(p, reg, pol, msg, conn, now, out);
  else if (has_seraph && (protocols & TA_PROTO_SERAPH))
    st = ta_verify_seraph(p, reg, pol, msg, conn, now, out);
  else if ((protocols & TA_PROTO_MTLS) && conn_has_cert(conn))
    st = verify_mtls(p, reg, pol, msg, conn, out);
  else if (has_native)
    return ta_verify_fail(out, TA_E_NO_CREDENTIALS,
                          "the request carries an RFC 9421 signature but this location does not accept it");
  else if (has_seraph)
    return ta_verify_fail(out, TA_E_NO_CREDENTIALS,
                          "the request carries Seraph headers but this location does not accept the "
                          "Seraph protocol");
  else
    return ta_verify_fail(out, TA_E_NO_CREDENTIALS,
                          (protocols & TA_PROTO_MTLS)
                          ? "no Signature-Input/Signature and no verified client certificate"
                          : "no Signature-Input/Signature");
  out->status = st;
  if (st == TA_OK) {
    out->detail = NULL;
  } else {
    /* Only a success hands out something to record or check. */
    out->user = NULL;
    out->replay_key = NULL;
    out->replay_expires = 0;
    memset(out->replay_id, 0, sizeof out->replay_id);
    out->content_digest = NULL;
    if (out->detail == NULL)
      out->detail = ta_error_summary(st);
  }
  return st;
}

const char *ta_verify_accept_signature(apr_pool_t *p, const ta_policy_t *pol)
{
  unsigned protocols = pol->protocols ? pol->protocols : TA_PROTO_NATIVE;
  if (!(protocols & TA_PROTO_NATIVE))
    return NULL;
  const char *label = pol->signature_label ? pol->signature_label : TA_DEFAULT_SIGNATURE_LABEL;
  char *header = apr_pstrdup(p, pol->user_header ? pol->user_header : TA_DEFAULT_USER_HEADER);
  for (char *c = header; *c; c++)
    *c = (char)apr_tolower((unsigned char)*c);
  return apr_psprintf(p, "%s=(\"@method\" \"@target-uri\" \"%s\");created;keyid%s", label, header,
                      pol->replay_protection ? ";nonce" : "");
}

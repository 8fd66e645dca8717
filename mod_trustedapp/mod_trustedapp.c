/* mod_trustedapp: authenticates requests from registered trusted
 * applications (RFC 9421 signatures, legacy Seraph, mutual TLS).
 *
 *   AuthType TrustedApp          -> check_authn hook (this file)
 *   Require trusted-app ID...    -> authz provider (ta_mod_authz.c)
 *
 * The decision is libtrustedapp's ta_verify_request; this file only runs the
 * steps around it in order: view of the request, verdict, body digest,
 * replay record, export. */
#define TA_MOD_MAIN
#include "mod_trustedapp.h"

#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "http_core.h"
#include "http_protocol.h"
#include "mod_auth.h"
#include "mpm_common.h"

/* Internal requests (DirectoryIndex, ErrorDocument, mod_rewrite) inherit the
 * initial request's authentication when their path is still allowed. */
static int inherit_authentication(request_rec *r, const ta_dir_conf_t *dc)
{
  const request_rec *ir = r;
  const ta_mod_auth_note_t *note;
  const char *path = NULL;

  while (ir->main || ir->prev)
    ir = ir->main ? ir->main : ir->prev;
  note = ta_mod_auth_note(ir);
  if (!note)
    return HTTP_UNAUTHORIZED;   /* the initial request failed and was logged */

  /* An application without prefixes got here only where that allows all (Seraph). */
  if (ta_path_normalize(r->pool, ap_os_escape_path(r->pool, r->uri, 1), &path) != TA_OK
      || (dc->paths && !ta_path_set_match(dc->paths, path))
      || (note->app && note->app->n_path > 0 && !ta_path_set_match(note->app->paths, path))) {
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TA%04d %s: app=%s client=%s id=%s internal "
                  "request to %s is outside the application's paths", (int)TA_E_PATH_NOT_ALLOWED,
                  ta_error_token(TA_E_PATH_NOT_ALLOWED), note->app_id, note->client_ip,
                  ta_mod_log_id(r), ap_escape_logitem(r->pool, r->uri));
    apr_table_setn(r->err_headers_out, TA_ERROR_HEADER, ta_error_token(TA_E_PATH_NOT_ALLOWED));
    return ta_error_http_status(TA_E_PATH_NOT_ALLOWED);
  }
  ta_mod_set_auth_note(r, note);
  ta_mod_export(r, note);
  return OK;
}

static int check_authn(request_rec *r)
{
  const char *type = ap_auth_type(r);
  const ta_dir_conf_t *dc;
  const ta_registry_t *reg;
  ta_policy_t pol;
  ta_conn_t conn;
  ta_verdict_t v;
  ta_msg_t *msg;
  ta_mod_auth_note_t *note;
  const char *detail = NULL;
  apr_time_t now;
  ta_status_t st;
  ta_mod_headers_t seen;

  if (!type || strcasecmp(type, TA_AUTH_TYPE))
    return DECLINED;
  r->ap_auth_type = (char *)TA_AUTH_TYPE;
  dc = ap_get_module_config(r->per_dir_config, &trustedapp_module);
  ta_mod_policy_from_conf(dc, &pol);
  memset(&v, 0, sizeof v);

  if (!ap_is_initial_req(r))
    return inherit_authentication(r, dc);

  now = apr_time_now();
  reg = ta_mod_registry_acquire(r, now);
  if (!reg)
    return ta_mod_fail(r, dc, &pol, NULL, TA_E_CONFIG, NULL, r->useragent_ip,
                       "AuthType TrustedApp but no TrustedAppRegistry for this server");

  msg = ta_mod_build_msg(r, &seen);
  st = ta_mod_build_conn(r, dc, &seen, &conn, &detail);
  if (st != TA_OK)
    return ta_mod_fail(r, dc, &pol, msg, st, NULL, r->connection->client_ip, detail);

  st = ta_verify_request(r->pool, reg, &pol, msg, &conn, now, &v);
  if (st != TA_OK)
    return ta_mod_fail(r, dc, &pol, msg, st, &v, conn.client_ip, v.detail);

  if (v.content_digest) {
    apr_off_t max = dc->max_body == TA_UNSET ? TA_DEFAULT_MAX_BODY : dc->max_body;
    st = ta_mod_check_body(r, v.content_digest, max, &detail);
    if (st != TA_OK) {
      int status = ta_mod_fail(r, dc, &pol, msg, st, &v, conn.client_ip, detail);
      /* httpd's input filter refused the body and already answered (ap_die
       * set r->status): a second answer would follow the first on the wire. */
      return r->status != HTTP_OK ? AP_FILTER_ERROR : status;
    }
  }

  if (pol.replay_protection && v.replay_key) {
    int seraph = v.protocol && !strcmp(v.protocol, "seraph");
    int overflow_refused = 0;
    apr_time_t created = apr_time_from_sec(apr_time_sec(now) + v.clock_offset_sec);
    st = ta_mod_replay_record(r, v.replay_id, v.replay_expires, created, now,
                              seraph ? pol.seraph_future_skew_sec : pol.future_skew_sec,
                              ta_mod_flag(dc->replay_refuse_overflow, 0), &overflow_refused,
                              &detail);
    if (st == TA_E_REPLAY_UNAVAILABLE && !overflow_refused
        && ta_mod_flag(dc->replay_fail_open, 0)) {
      ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TA%04d %s: app=%s client=%s id=%s accepted "
                    "WITHOUT replay protection (TrustedAppReplayCacheFailure open): %s",
                    (int)st, ta_error_token(st), v.app->id, conn.client_ip, ta_mod_log_id(r), detail);
    } else if (st != TA_OK) {
      return ta_mod_fail(r, dc, &pol, msg, st, &v, conn.client_ip, detail);
    }
  }

  note = apr_pcalloc(r->pool, sizeof(*note));
  note->app = v.app;
  note->app_id = v.app->id;   /* the registry is held until r->pool is cleaned up */
  note->app_name = v.app->name ? v.app->name : note->app_id;
  note->protocol = v.protocol ? v.protocol : "native";
  /* Without an acting user (TrustedAppRequireUser off) the application itself is the user. */
  note->user = (v.user && *v.user) ? v.user : note->app_id;
  note->client_ip = conn.client_ip;
  /* Reading a chunked body may have merged trailers into the headers. */
  if (seen.lookalikes || conn.has_body)
    ta_mod_strip_lookalikes(r, dc);
  ta_mod_set_auth_note(r, note);
  ta_mod_export(r, note);
  /* The log id is generated on demand: only when the line is written. */
  if (APLOG_R_IS_LEVEL(r, APLOG_INFO))
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "TA0000 ok: app=%s client=%s id=%s user=%s protocol=%s",
                  note->app_id, conn.client_ip, ta_mod_log_id(r), note->user, note->protocol);
  return OK;
}

/* 401 answers name the scheme (RFC 9110 requires WWW-Authenticate). */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
  const char *realm;
  if (strcasecmp(auth_type, TA_AUTH_TYPE))
    return DECLINED;
  realm = ap_auth_name(r);
  apr_table_setn(r->err_headers_out, (PROXYREQ_PROXY == r->proxyreq) ? "Proxy-Authenticate"
                                                                     : "WWW-Authenticate",
                 apr_psprintf(r->pool, "%s realm=\"%s\"", TA_AUTH_TYPE,
                              ap_escape_quotes(r->pool, realm ? realm : "trusted applications")));
  return OK;
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
  ta_mod_config_reset();
  ta_mod_replay_pre_config(pconf);
  return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
  int rc;
  ta_mod_config_warnings(ptemp, s);
  rc = ta_mod_registry_post_config(pconf, ptemp, s);
  if (rc != OK)
    return rc;
  rc = ta_mod_certdoc_post_config(pconf, ptemp, s);
  if (rc != OK)
    return rc;
  return ta_mod_replay_post_config(pconf, ptemp, s);
}

/* apache2 -t: the hook cannot fail the test, so a broken registry ends it
 * here, after the message, instead of printing "Syntax OK". */
static void test_config(apr_pool_t *pconf, server_rec *s)
{
  ta_mod_config_warnings(pconf, s);
  if (ta_mod_registry_test_config(pconf, s) != OK)
    exit(1);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
  ta_mod_replay_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
  ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_test_config(test_config, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_monitor(ta_mod_registry_monitor, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_quick_handler(ta_mod_certdoc_quick_handler, NULL, NULL, APR_HOOK_MIDDLE);
  ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
  ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
  ta_mod_authz_register(p);
  ta_mod_body_register_filters();
}

AP_DECLARE_MODULE(trustedapp) = {
  STANDARD20_MODULE_STUFF,
  ta_mod_create_dir_conf,
  ta_mod_merge_dir_conf,
  ta_mod_create_srv_conf,
  ta_mod_merge_srv_conf,
  ta_mod_cmds,
  register_hooks,
  AP_MODULE_FLAG_NONE
};

/* What the module tells the world: the error response (status, stable token
 * header, optional detail, Accept-Signature hint, Seraph's legacy headers),
 * one error-log line per failure, and on success REMOTE_USER plus the
 * TRUSTEDAPP_* environment, after removing client-supplied look-alikes. */
#include "mod_trustedapp.h"

#include <string.h>
#include <apr_strings.h>
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"

#include "ta_seraph.h"

#define TA_MAX_DETAIL 300

const char *ta_mod_tag(apr_pool_t *p, ta_status_t st)
{
  return apr_psprintf(p, "TA%04d %s:", (int)st, ta_error_token(st));
}

const char *ta_mod_log_id(request_rec *r)
{
  const request_rec *ir = r;
  while (ir->main)
    ir = ir->main;
  while (ir->prev)
    ir = ir->prev;
  if (!ir->log_id) {
    const char *id = NULL;
    /* The same id ErrorLogFormat's %L shows, created on demand. */
    ap_run_generate_log_id(ir->connection, ir, &id);
    ((request_rec *)ir)->log_id = id;
  }
  if (!r->log_id)
    r->log_id = ir->log_id;
  return r->log_id ? r->log_id : "-";
}

/* Printable ASCII only, bounded: details go into a header and the log. */
static const char *clean_text(apr_pool_t *p, const char *s, apr_size_t max)
{
  apr_size_t n = 0;
  char *out, *w;
  if (!s)
    return NULL;
  out = apr_palloc(p, max + 4);
  for (w = out; *s && n < max; s++, n++)
    *w++ = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  if (*s) {
    memcpy(w, "...", 3);
    w += 3;
  }
  *w = '\0';
  return out;
}

int ta_mod_fail(request_rec *r, const ta_dir_conf_t *dc, const ta_policy_t *pol,
                const ta_msg_t *msg, ta_status_t st, const ta_verdict_t *v, const char *client_ip,
                const char *detail)
{
  int status = ta_error_http_status(st);
  const char *token = ta_error_token(st);
  const char *app = "-";
  const char *protocol = v ? v->protocol : NULL;
  const char *clean = clean_text(r->pool, detail ? detail : ta_error_summary(st), TA_MAX_DETAIL);

  if (v && v->app && v->app->id)
    app = v->app->id;
  else if (v && v->claimed_app_id)
    app = v->claimed_app_id;
  app = clean_text(r->pool, app, 140);

  ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_ERR : APLOG_WARNING, 0, r,
                "TA%04d %s: app=%s client=%s id=%s %s", (int)st, token, app,
                client_ip ? client_ip : r->useragent_ip, ta_mod_log_id(r), clean);

  apr_table_setn(r->err_headers_out, TA_ERROR_HEADER, token);
  if (ta_mod_flag(dc->error_detail, 0) && clean)
    apr_table_setn(r->err_headers_out, TA_ERROR_DETAIL_HEADER, clean);
  if (status == HTTP_UNAUTHORIZED && pol) {
    const char *hint = ta_verify_accept_signature(r->pool, pol);
    if (hint && *hint)
      apr_table_setn(r->err_headers_out, "Accept-Signature", hint);
  }
  if (protocol && !strcmp(protocol, "seraph")) {
    apr_table_setn(r->err_headers_out, "X-Seraph-Trusted-App-Status", "ERROR");
    /* As the Java filter: BAD_SIGNATURE names the URL this server expected. */
    const char *claimed = (v && v->app && v->app->id) ? v->app->id : (v ? v->claimed_app_id : NULL);
    apr_table_setn(r->err_headers_out, "X-Seraph-Trusted-App-Error",
                   msg ? ta_seraph_error_header_msg(r->pool, st, claimed, msg,
                                                    pol ? pol->seraph_base_url : NULL, client_ip,
                                                    msg->path)
                       : ta_seraph_error_header(r->pool, st, NULL, client_ip, r->uri));
  }
  if (status == HTTP_UNAUTHORIZED)
    ap_note_auth_failure(r);
  return status;
}

static char folded(char c)
{
  return c == '_' ? '-' : (char)apr_tolower((unsigned char)c);
}

/* The first n characters of name are want's (lower case), ASCII
 * case-insensitively and with '_' for '-' (CGI turns both into the same
 * variable). Compared from the end: a header that merely shares a prefix
 * (TrustedApp-User and TrustedApp-Name) differs there at once. */
static int lookalike_span(const char *name, const char *want, size_t n)
{
  while (n-- > 0)
    if (folded(name[n]) != want[n])
      return 0;
  return 1;
}

/* Names a client could use to impersonate what this module exports, and
 * the legacy credentials: these are consumed here, whichever protocol
 * authenticated, since a backend has no use for them and must not be able
 * to replay them. Each starts with r, t or x and has its own length, so
 * most headers are dismissed on their first letter or their length. */
int ta_mod_is_lookalike(const char *name)
{
  static const char legacy_prefix[] = "x-seraph-trusted-app-";
  size_t len;
  switch (name[0]) {
  case 'r': case 'R': case 't': case 'T': case 'x': case 'X':
    break;
  default:
    return 0;
  }
  len = strlen(name);
  switch (len) {
  case 11:
    return lookalike_span(name, "remote-user", len);
  case 13:
    return lookalike_span(name, "trustedapp-id", len) || lookalike_span(name, "x-remote-user", len);
  case 15:
    return lookalike_span(name, "trustedapp-name", len);
  case 19:
    return lookalike_span(name, "trustedapp-protocol", len);
  default:
    return len >= sizeof legacy_prefix - 1 && lookalike_span(name, legacy_prefix, sizeof legacy_prefix - 1);
  }
}

void ta_mod_strip_lookalikes(request_rec *r, const ta_dir_conf_t *dc)
{
  const apr_array_header_t *arr = apr_table_elts(r->headers_in);
  const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
  apr_array_header_t *names = NULL;
  int i;
  for (i = 0; i < arr->nelts; i++) {
    if (e[i].key && ta_mod_is_lookalike(e[i].key)) {
      if (!names)
        names = apr_array_make(r->pool, 2, sizeof(const char *));
      APR_ARRAY_PUSH(names, const char *) = e[i].key;
    }
  }
  for (i = 0; names && i < names->nelts; i++) {
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s removed client-supplied header %s",
                  ta_mod_tag(r->pool, TA_OK), APR_ARRAY_IDX(names, i, const char *));
    apr_table_unset(r->headers_in, APR_ARRAY_IDX(names, i, const char *));
  }
}

static int has_trustedapp_variable(const apr_table_t *env)
{
  const apr_array_header_t *arr = apr_table_elts(env);
  const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
  for (int i = 0; i < arr->nelts; i++)
    if (e[i].key && !strncasecmp(e[i].key, "TRUSTEDAPP_", sizeof("TRUSTEDAPP_") - 1))
      return 1;
  return 0;
}

/* Whatever set TRUSTEDAPP_* before (SetEnvIf on a client header, say) is
 * replaced: apr_table_setn drops every earlier entry of the name. Usually
 * there is none, and the variables are simply added (no scan per name). */
void ta_mod_export(request_rec *r, const ta_mod_auth_note_t *note)
{
  void (*set)(apr_table_t *, const char *, const char *) =
    has_trustedapp_variable(r->subprocess_env) ? apr_table_setn : apr_table_addn;

  /* Seraph clients look for the filter's success marker. */
  if (note->protocol && !strcmp(note->protocol, "seraph"))
    apr_table_setn(r->err_headers_out, "X-Seraph-Trusted-App-Status", "OK");
  r->user = apr_pstrdup(r->pool, note->user);
  r->ap_auth_type = (char *)TA_AUTH_TYPE;
  /* No copies: the note's strings live in the pool of the initial request
   * (which outlives its internal requests) or in the registry generation
   * that request holds until its pool is cleaned up. */
  set(r->subprocess_env, "TRUSTEDAPP_ID", note->app_id);
  set(r->subprocess_env, "TRUSTEDAPP_NAME", note->app_name ? note->app_name : note->app_id);
  set(r->subprocess_env, "TRUSTEDAPP_PROTOCOL", note->protocol ? note->protocol : "");
  set(r->subprocess_env, "TRUSTEDAPP_USER", r->user);
}

const ta_mod_auth_note_t *ta_mod_auth_note(const request_rec *r)
{
  return ap_get_module_config(r->request_config, &trustedapp_module);
}

void ta_mod_set_auth_note(request_rec *r, const ta_mod_auth_note_t *note)
{
  ap_set_module_config(r->request_config, &trustedapp_module, (void *)note);
}

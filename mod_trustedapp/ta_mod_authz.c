/* Authorization provider: Require trusted-app ID [ID...] | Require trusted-app *
 * Grants requests this module authenticated for one of the listed
 * applications. The list is parsed once at configuration time. */
#include "mod_trustedapp.h"

#include <string.h>
#include <apr_strings.h>
#include "mod_auth.h"

typedef struct {
  int any;                        /* "*": every authenticated application */
  apr_array_header_t *ids;        /* const char * */
} ta_authz_list_t;

static const char *authz_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
  ta_authz_list_t *list = apr_pcalloc(cmd->pool, sizeof(*list));
  const char *t = require_line, *w;
  list->ids = apr_array_make(cmd->pool, 4, sizeof(const char *));
  while ((w = ap_getword_conf(cmd->pool, &t)) && w[0]) {
    if (!strcmp(w, "*")) {
      list->any = 1;
      continue;
    }
    if (strlen(w) > 128 || strpbrk(w, "\"\\ \t,"))
      return apr_psprintf(cmd->pool, "Require trusted-app: invalid application id '%s' (%s:%d)",
                          w, cmd->directive->filename, cmd->directive->line_num);
    APR_ARRAY_PUSH(list->ids, const char *) = w;
  }
  if (!list->any && list->ids->nelts == 0)
    return apr_psprintf(cmd->pool, "Require trusted-app needs application ids or * (%s:%d)",
                        cmd->directive->filename, cmd->directive->line_num);
  if (list->any && list->ids->nelts)
    return apr_psprintf(cmd->pool, "Require trusted-app: * cannot be combined with ids (%s:%d)",
                        cmd->directive->filename, cmd->directive->line_num);
  *parsed = list;
  return NULL;
}

/* Our note on this request or, for internal requests, on the initial one. */
static const ta_mod_auth_note_t *find_note(const request_rec *r)
{
  for (; r; r = r->main ? r->main : r->prev) {
    const ta_mod_auth_note_t *note = ta_mod_auth_note(r);
    if (note)
      return note;
  }
  return NULL;
}

static authz_status authz_check(request_rec *r, const char *require_line, const void *parsed)
{
  const ta_authz_list_t *list = parsed;
  const ta_mod_auth_note_t *note;
  int i;

  if (!r->user)
    return AUTHZ_DENIED_NO_USER;
  note = find_note(r);
  if (!note || !r->ap_auth_type || strcmp(r->ap_auth_type, TA_AUTH_TYPE)) {
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s user %s was not authenticated as a "
                  "trusted application", ta_mod_tag(r->pool, TA_E_APP_NOT_AUTHORIZED), r->user);
    return AUTHZ_DENIED;
  }
  if (list->any)
    return AUTHZ_GRANTED;
  for (i = 0; i < list->ids->nelts; i++) {
    if (!strcmp(APR_ARRAY_IDX(list->ids, i, const char *), note->app_id))
      return AUTHZ_GRANTED;
  }
  ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "TA%04d %s: app=%s client=%s id=%s "
                "application not in 'Require trusted-app %s'", (int)TA_E_APP_NOT_AUTHORIZED,
                ta_error_token(TA_E_APP_NOT_AUTHORIZED), note->app_id,
                note->client_ip ? note->client_ip : r->useragent_ip, ta_mod_log_id(r), require_line);
  apr_table_setn(r->err_headers_out, TA_ERROR_HEADER, ta_error_token(TA_E_APP_NOT_AUTHORIZED));
  return AUTHZ_DENIED;
}

static const authz_provider trusted_app_provider = {
  &authz_check,
  &authz_parse,
};

void ta_mod_authz_register(apr_pool_t *p)
{
  ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, TA_AUTHZ_PROVIDER, AUTHZ_PROVIDER_VERSION,
                            &trusted_app_provider, AP_AUTH_INTERNAL_PER_CONF);
}

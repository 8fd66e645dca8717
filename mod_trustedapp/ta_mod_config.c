/* Directives: parsed and validated at configuration time (patterns become
 * ta_ip_set_t / ta_path_set_t here, never per request), merged into fresh
 * structs where TA_UNSET / NULL mean "inherit". */
#include "mod_trustedapp.h"

#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include "apr_lib.h"

#include "ta_keys.h"

#define TA_MAX_SKEW_SEC (24 * 3600)

int ta_mod_flag(int value, int dflt)
{
  return value == TA_UNSET ? dflt : value;
}

void *ta_mod_create_srv_conf(apr_pool_t *p, server_rec *s)
{
  return apr_pcalloc(p, sizeof(ta_srv_conf_t));
}

void *ta_mod_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
  const ta_srv_conf_t *base = basev, *add = addv;
  ta_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
  /* A virtual host inherits the main server's registry unless it names its own. */
  c->registry_path = add->registry_path ? add->registry_path : base->registry_path;
  c->registry_where = add->registry_path ? add->registry_where : base->registry_where;
  c->cert_doc_path = add->cert_doc_path ? add->cert_doc_path : base->cert_doc_path;
  c->cert_doc_alg = add->cert_doc_path ? add->cert_doc_alg : base->cert_doc_alg;
  c->seraph_doc_path = add->seraph_doc_path ? add->seraph_doc_path : base->seraph_doc_path;
  return c;
}

void *ta_mod_create_dir_conf(apr_pool_t *p, char *dir)
{
  ta_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
  c->protocols = 0;
  c->future_skew_sec = TA_UNSET;
  c->past_limit_sec = TA_UNSET;
  c->replay_protection = TA_UNSET;
  c->replay_fail_open = TA_UNSET;
  c->replay_refuse_overflow = TA_UNSET;
  c->proxy_header = TA_PROXY_HEADER_UNSET;
  c->every_hop = TA_UNSET;
  c->require_user = TA_UNSET;
  c->error_detail = TA_UNSET;
  c->require_tls = TA_UNSET;
  c->require_client_cert = TA_UNSET;
  c->seraph_insecure_versions = TA_UNSET;
  c->seraph_raw_path = TA_UNSET;
  c->max_body = TA_UNSET;
  c->forwarded_proto = TA_UNSET;
  return c;
}

#define TA_MERGE_INT(f) c->f = (add->f == TA_UNSET) ? base->f : add->f
#define TA_MERGE_PTR(f) c->f = add->f ? add->f : base->f

void *ta_mod_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
  const ta_dir_conf_t *base = basev, *add = addv;
  ta_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
  c->protocols = add->protocols ? add->protocols : base->protocols;
  TA_MERGE_INT(future_skew_sec);
  TA_MERGE_INT(past_limit_sec);
  TA_MERGE_INT(replay_protection);
  TA_MERGE_INT(replay_fail_open);
  TA_MERGE_INT(replay_refuse_overflow);
  /* A list set in an inner section replaces the outer one as a whole. */
  if (add->trusted_proxies) {
    c->trusted_proxies = add->trusted_proxies;
    c->proxy_patterns = add->proxy_patterns;
  } else {
    c->trusted_proxies = base->trusted_proxies;
    c->proxy_patterns = base->proxy_patterns;
  }
  c->proxy_header = add->proxy_header != TA_PROXY_HEADER_UNSET ? add->proxy_header : base->proxy_header;
  TA_MERGE_INT(every_hop);
  if (add->paths) {
    c->paths = add->paths;
    c->path_prefixes = add->path_prefixes;
  } else {
    c->paths = base->paths;
    c->path_prefixes = base->path_prefixes;
  }
  TA_MERGE_PTR(user_header);
  TA_MERGE_INT(require_user);
  TA_MERGE_INT(error_detail);
  TA_MERGE_INT(require_tls);
  TA_MERGE_INT(require_client_cert);
  TA_MERGE_PTR(seraph_base_url);
  TA_MERGE_INT(seraph_insecure_versions);
  TA_MERGE_INT(seraph_raw_path);
  TA_MERGE_INT(max_body);
  TA_MERGE_INT(forwarded_proto);
  return c;
}

void ta_mod_policy_from_conf(const ta_dir_conf_t *dc, ta_policy_t *pol)
{
  ta_policy_init(pol);
  pol->protocols = dc->protocols ? dc->protocols : TA_PROTO_NATIVE;
  pol->seraph_insecure_versions = ta_mod_flag(dc->seraph_insecure_versions, 0);
  pol->seraph_base_url = dc->seraph_base_url;
  pol->future_skew_sec = ta_mod_flag(dc->future_skew_sec, TA_DEFAULT_FUTURE_SKEW_SEC);
  pol->seraph_future_skew_sec = TA_SERAPH_FUTURE_SKEW_SEC;
  pol->past_limit_sec = ta_mod_flag(dc->past_limit_sec, 0);
  pol->replay_protection = ta_mod_flag(dc->replay_protection, 1);
  pol->replay_id = pol->replay_protection ? ta_mod_replay_id() : NULL;
  pol->replay_id_known = pol->replay_protection ? ta_mod_replay_id_known() : NULL;
  pol->require_user = ta_mod_flag(dc->require_user, 1);
  pol->user_header = dc->user_header ? dc->user_header : TA_DEFAULT_USER_HEADER;
  pol->signature_label = TA_DEFAULT_SIGNATURE_LABEL;
  pol->location_paths = dc->paths;
  pol->path_raw_prefix = ta_mod_flag(dc->seraph_raw_path, 0);
  pol->require_tls = ta_mod_flag(dc->require_tls, 0);
  pol->require_client_cert = ta_mod_flag(dc->require_client_cert, 0);
}

/* ---------------------------------------------------------------- helpers */
static const char *bad_value(cmd_parms *cmd, const char *value, const char *why)
{
  return apr_psprintf(cmd->pool, "%s: invalid value '%s' (%s:%d): %s", cmd->cmd->name,
                      value, cmd->directive ? cmd->directive->filename : "?",
                      cmd->directive ? cmd->directive->line_num : 0, why);
}

static int parse_seconds(const char *arg, int *out)
{
  char *end = NULL;
  long v;
  if (!*arg || !apr_isdigit(*arg))
    return 0;
  v = strtol(arg, &end, 10);
  if (*end || v < 0 || v > TA_MAX_SKEW_SEC)
    return 0;
  *out = (int)v;
  return 1;
}

/* RFC 9110 token characters: a field name. */
static int is_field_name(const char *s)
{
  if (!*s || strlen(s) > 128)
    return 0;
  for (; *s; s++) {
    if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
      return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------- server scope */
static const char *set_registry(cmd_parms *cmd, void *dummy, const char *arg)
{
  ta_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &trustedapp_module);
  const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
  const char *path;
  if (err)
    return err;
  path = ap_server_root_relative(cmd->pool, arg);
  if (!path || !*arg)
    return bad_value(cmd, arg, "not a usable file path");
  sc->registry_path = path;
  sc->registry_where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                    cmd->directive->line_num);
  return NULL;
}

static const char *set_replay_cache(cmd_parms *cmd, void *dummy, const char *arg)
{
  const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
  if (err)
    return err;
  return ta_mod_replay_set(cmd, arg);
}

static const char *check_doc_path(cmd_parms *cmd, const char *arg, const char *example)
{
  const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
  if (err)
    return err;
  if (arg[0] != '/' || strchr(arg, '?') || strchr(arg, '#') || strstr(arg, "/../"))
    return bad_value(cmd, arg, apr_pstrcat(cmd->pool, "an absolute URL path like ", example, NULL));
  return NULL;
}

static const char *set_cert_path(cmd_parms *cmd, void *dummy, const char *arg, const char *alg)
{
  ta_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &trustedapp_module);
  const char *err = check_doc_path(cmd, arg, "/.well-known/trustedapp-certificate");
  if (err)
    return err;
  if (alg && ta_alg_from_name(alg) == TA_ALG_NONE)
    return bad_value(cmd, alg, "an algorithm name such as rsa-pss-sha512 or rsa-v1_5-sha256");
  sc->cert_doc_path = arg;
  sc->cert_doc_alg = alg;
  return NULL;
}

static const char *set_seraph_cert_path(cmd_parms *cmd, void *dummy, const char *arg)
{
  ta_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &trustedapp_module);
  const char *err = check_doc_path(cmd, arg, "/admin/appTrustCertificate");
  if (err)
    return err;
  sc->seraph_doc_path = arg;
  return NULL;
}

/* ---------------------------------------------------------------- per directory */
static const char *set_protocols(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  unsigned bit;
  if (!strcasecmp(arg, "native") || !strcasecmp(arg, "rfc9421"))
    bit = TA_PROTO_NATIVE;
  else if (!strcasecmp(arg, "seraph"))
    bit = TA_PROTO_SERAPH;
  else if (!strcasecmp(arg, "mtls"))
    bit = TA_PROTO_MTLS;
  else
    return bad_value(cmd, arg, "expected native, seraph or mtls");
  if (dc->protocols & bit)
    return bad_value(cmd, arg, "listed twice");
  dc->protocols |= bit;
  return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *conf, const char *future, const char *past)
{
  ta_dir_conf_t *dc = conf;
  if (!parse_seconds(future, &dc->future_skew_sec))
    return bad_value(cmd, future, "FUTURE_SECONDS must be an integer from 0 to 86400");
  if (past && (!parse_seconds(past, &dc->past_limit_sec) || dc->past_limit_sec == 0))
    return bad_value(cmd, past, "PAST_LIMIT_SECONDS must be an integer from 1 to 86400");
  if (!past)
    dc->past_limit_sec = TA_UNSET;
  return NULL;
}

static const char *set_replay_failure(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  if (!strcasecmp(arg, "closed"))
    dc->replay_fail_open = 0;
  else if (!strcasecmp(arg, "open"))
    dc->replay_fail_open = 1;
  else
    return bad_value(cmd, arg, "expected closed or open");
  return NULL;
}

static const char *set_replay_overflow(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  if (!strcasecmp(arg, "warn"))
    dc->replay_refuse_overflow = 0;
  else if (!strcasecmp(arg, "refuse"))
    dc->replay_refuse_overflow = 1;
  else
    return bad_value(cmd, arg, "expected warn or refuse");
  return NULL;
}

static const char *set_trusted_proxy(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  ta_ip_set_t *set = NULL;
  const char *err = NULL;
  if (!dc->proxy_patterns)
    dc->proxy_patterns = apr_array_make(cmd->pool, 4, sizeof(const char *));
  APR_ARRAY_PUSH(dc->proxy_patterns, const char *) = arg;
  if (ta_ip_set_parse(cmd->pool, (const char *const *)dc->proxy_patterns->elts,
                      (size_t)dc->proxy_patterns->nelts, &set, &err) != TA_OK)
    return bad_value(cmd, arg, err ? err : "not an IP address, CIDR or wildcard pattern");
  dc->trusted_proxies = set;
  return NULL;
}

static const char *set_proxy_header(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  if (!strcasecmp(arg, "X-Forwarded-For"))
    dc->proxy_header = TA_PROXY_HEADER_XFF;
  else if (!strcasecmp(arg, "Forwarded"))
    dc->proxy_header = TA_PROXY_HEADER_FORWARDED;
  else if (!strcasecmp(arg, "remoteip"))
    dc->proxy_header = TA_PROXY_HEADER_REMOTEIP;
  else
    return bad_value(cmd, arg, "expected X-Forwarded-For, Forwarded or remoteip");
  return NULL;
}

static const char *set_path_prefix(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  ta_path_set_t *set = NULL;
  const char *err = NULL;
  if (!dc->path_prefixes)
    dc->path_prefixes = apr_array_make(cmd->pool, 4, sizeof(const char *));
  APR_ARRAY_PUSH(dc->path_prefixes, const char *) = arg;
  if (ta_path_set_parse(cmd->pool, (const char *const *)dc->path_prefixes->elts,
                        (size_t)dc->path_prefixes->nelts, &set, &err) != TA_OK)
    return bad_value(cmd, arg, err ? err : "a path prefix starts with '/'");
  dc->paths = set;
  return NULL;
}

static const char *set_user_header(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  if (!is_field_name(arg))
    return bad_value(cmd, arg, "not an HTTP field name");
  dc->user_header = arg;
  return NULL;
}

static const char *set_seraph_base_url(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  apr_uri_t u;
  size_t n = strlen(arg);
  if (apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname
      || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https")) || u.query
      || u.fragment || u.user)
    return bad_value(cmd, arg, "expected http(s)://host[:port][/prefix]");
  /* Stored without a trailing slash: the request path is appended. */
  while (n > 1 && arg[n - 1] == '/')
    n--;
  dc->seraph_base_url = apr_pstrndup(cmd->pool, arg, n);
  return NULL;
}

static const char *set_seraph_insecure(cmd_parms *cmd, void *conf, int on)
{
  ta_dir_conf_t *dc = conf;
  dc->seraph_insecure_versions = on;
  return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *conf, const char *arg)
{
  ta_dir_conf_t *dc = conf;
  char *end = NULL;
  apr_int64_t v;
  if (!apr_isdigit(*arg))
    return bad_value(cmd, arg, "a number of bytes");
  v = apr_strtoi64(arg, &end, 10);
  if (*end || v < 0 || v > TA_MAX_MAX_BODY)
    return bad_value(cmd, arg, "a number of bytes from 0 to 4294967296");
  dc->max_body = (apr_off_t)v;
  return NULL;
}

#define TA_FLAG_FN(fn, field) \
  static const char *fn(cmd_parms *cmd, void *conf, int on) \
  { ((ta_dir_conf_t *)conf)->field = on; return NULL; }

TA_FLAG_FN(set_replay_protection, replay_protection)
TA_FLAG_FN(set_every_hop, every_hop)
TA_FLAG_FN(set_require_user, require_user)
TA_FLAG_FN(set_error_detail, error_detail)
TA_FLAG_FN(set_require_tls, require_tls)
TA_FLAG_FN(set_forwarded_proto, forwarded_proto)
TA_FLAG_FN(set_require_client_cert, require_client_cert)
TA_FLAG_FN(set_seraph_raw_path, seraph_raw_path)

/* Per-directory settings are not reachable from post_config; a directive
 * handler records insecure choices instead, and they are reported here. */
static apr_array_header_t *insecure_sites;

static const char *note_insecure(cmd_parms *cmd, void *conf, int on)
{
  if (on) {
    if (!insecure_sites)
      insecure_sites = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(insecure_sites, const char *) =
      apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
  }
  return set_seraph_insecure(cmd, conf, on);
}

#define TA_DIR (RSRC_CONF | ACCESS_CONF)

const command_rec ta_mod_cmds[] = {
  AP_INIT_TAKE1("TrustedAppRegistry", set_registry, NULL, RSRC_CONF,
                "The registry of trusted applications (XML file, see docs/REGISTRY.md)"),
  AP_INIT_TAKE1("TrustedAppReplayCache", set_replay_cache, NULL, RSRC_CONF,
                "socache provider[:args] remembering nonces (default shmcb)"),
  AP_INIT_TAKE12("TrustedAppCertificatePath", set_cert_path, NULL, RSRC_CONF,
                 "URL path serving this server's certificate document (from the registry's <self>) "
                 "[algorithm, for RSA keys]"),
  AP_INIT_TAKE1("TrustedAppSeraphCertificatePath", set_seraph_cert_path, NULL, RSRC_CONF,
                "URL path serving this server's legacy Seraph certificate document (RSA <self> key), "
                "e.g. /admin/appTrustCertificate"),
  AP_INIT_ITERATE("TrustedAppProtocols", set_protocols, NULL, TA_DIR,
                  "Accepted credentials: native (RFC 9421), seraph (legacy), mtls"),
  AP_INIT_TAKE12("TrustedAppClockSkew", set_clock_skew, NULL, TA_DIR,
                 "FUTURE_SECONDS [PAST_LIMIT_SECONDS]: tolerance for created in the future, "
                 "and an upper bound on the applications' timeouts"),
  AP_INIT_FLAG("TrustedAppReplayProtection", set_replay_protection, NULL, TA_DIR,
               "Require a nonce and refuse its reuse (default on)"),
  AP_INIT_TAKE1("TrustedAppReplayCacheFailure", set_replay_failure, NULL, TA_DIR,
                "closed (default: 503 when the replay cache fails) or open (accept and log)"),
  AP_INIT_TAKE1("TrustedAppReplayCacheOverflow", set_replay_overflow, NULL, TA_DIR,
                "warn (default: log when shmcb drops unexpired nonces) or refuse (503 for requests "
                "that could have been used before the overflow)"),
  AP_INIT_ITERATE("TrustedAppTrustedProxy", set_trusted_proxy, NULL, TA_DIR,
                  "Proxies (IP, CIDR, wildcard) whose forwarded-for claims are believed"),
  AP_INIT_TAKE1("TrustedAppProxyHeader", set_proxy_header, NULL, TA_DIR,
                "X-Forwarded-For (default), Forwarded, or remoteip (use mod_remoteip's result)"),
  AP_INIT_FLAG("TrustedAppEveryHopMustMatch", set_every_hop, NULL, TA_DIR,
               "Seraph semantics: the peer and every forwarded-for hop must match the app's IPs"),
  AP_INIT_ITERATE("TrustedAppPathPrefix", set_path_prefix, NULL, TA_DIR,
                  "Path prefixes applications may reach here (intersected with their own)"),
  AP_INIT_TAKE1("TrustedAppUserHeader", set_user_header, NULL, TA_DIR,
                "Request header carrying the acting user (default TrustedApp-User)"),
  AP_INIT_FLAG("TrustedAppRequireUser", set_require_user, NULL, TA_DIR,
               "Refuse requests that assert no user (default on)"),
  AP_INIT_FLAG("TrustedAppErrorDetail", set_error_detail, NULL, TA_DIR,
               "Send TrustedApp-Error-Detail with failures (default off)"),
  AP_INIT_FLAG("TrustedAppRequireTLS", set_require_tls, NULL, TA_DIR,
               "Refuse requests not received over TLS (default off)"),
  AP_INIT_FLAG("TrustedAppRequireClientCert", set_require_client_cert, NULL, TA_DIR,
               "Require the application's registered client certificate as well (default off)"),
  AP_INIT_TAKE1("TrustedAppSeraphBaseURL", set_seraph_base_url, NULL, TA_DIR,
                "External base URL Seraph clients sign (when a proxy rewrites the URL)"),
  AP_INIT_FLAG("TrustedAppSeraphInsecureVersions", note_insecure, NULL, TA_DIR,
               "Accept Seraph protocol versions 0 and 1 (not bound to the URL: insecure)"),
  AP_INIT_FLAG("TrustedAppSeraphRawPathMatch", set_seraph_raw_path, NULL, TA_DIR,
               "Seraph-exact raw startsWith path matching (weaker; compat only)"),
  AP_INIT_TAKE1("TrustedAppMaxBodySize", set_max_body, NULL, TA_DIR,
                "Largest request body checked against Content-Digest (default 67108864; bodies "
                "over 64 KiB are spooled to a temporary file, not kept in memory)"),
  AP_INIT_FLAG("TrustedAppForwardedProto", set_forwarded_proto, NULL, TA_DIR,
               "Take TLS from X-Forwarded-Proto / Forwarded proto= when the peer is a "
               "TrustedAppTrustedProxy (default off)"),
  {.name = NULL}
};

int ta_mod_any_registry(server_rec *s)
{
  for (; s; s = s->next) {
    const ta_srv_conf_t *sc = ap_get_module_config(s->module_config, &trustedapp_module);
    if (sc && sc->registry_path)
      return 1;
  }
  return 0;
}


void ta_mod_config_reset(void)
{
  insecure_sites = NULL;
}

void ta_mod_config_warnings(apr_pool_t *ptemp, server_rec *s)
{
  int i;
  if (!insecure_sites)
    return;
  for (i = 0; i < insecure_sites->nelts; i++) {
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "%s TrustedAppSeraphInsecureVersions on at %s: Seraph protocol versions 0 and 1 "
                 "are accepted there; their signatures are not bound to the URL and can be replayed "
                 "against any path",
                 ta_mod_tag(ptemp, TA_E_SERAPH_PROTOCOL), APR_ARRAY_IDX(insecure_sites, i, const char *));
  }
  insecure_sites = NULL;
}


/* Registry commands: add, list, show, set, remove, enable, disable,
 * add-key, remove-key, validate. Reads go through the module's loader;
 * every write goes through ta_registry_update (lock, re-read, edit,
 * validate, temp + fsync + rename), so an invalid edit changes nothing. */
#include "ta_cli.h"
#include "ta_regcmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "ta_ip.h"
#include "ta_keys.h"
#include "ta_path.h"
#include "ta_registry.h"
#include "ta_registry_write.h"
#include "ta_users.h"

/* ------------------------------------------------------------ rendering */

static json_t *string_array(const char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

const char *ta_regcmd_time_iso(apr_pool_t *p, apr_time_t t)
{
  apr_time_exp_t x;
  if (apr_time_exp_gmt(&x, t) != APR_SUCCESS)
    return "invalid";
  return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", x.tm_year + 1900, x.tm_mon + 1,
                      x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
}

static const char *protocols_text(apr_pool_t *p, unsigned mask)
{
  if (mask == TA_APP_PROTO_ALL || mask == 0)
    return "any (the location decides)";
  return apr_pstrcat(p, (mask & TA_APP_PROTO_RFC9421) ? "rfc9421 " : "",
                     (mask & TA_APP_PROTO_SERAPH) ? "seraph " : "",
                     (mask & TA_APP_PROTO_MTLS) ? "mtls" : "", NULL);
}

static json_t *app_json(apr_pool_t *p, const ta_app_t *a, int detailed)
{
  apr_time_t now = apr_time_now();
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(a->id));
  json_object_set_new(o, "name", a->name ? json_string(a->name) : json_null());
  json_object_set_new(o, "enabled", json_boolean(a->enabled));
  if (!detailed) {
    json_object_set_new(o, "keys", json_integer((json_int_t)a->n_keys));
    json_object_set_new(o, "valid_keys", json_integer((json_int_t)ta_app_valid_key_count(a, now)));
    json_object_set_new(o, "ips", json_integer((json_int_t)a->n_ip));
    json_object_set_new(o, "paths", json_integer((json_int_t)a->n_path));
    return o;
  }
  json_object_set_new(o, "protocols", json_string(protocols_text(p, a->protocols)));
  json_object_set_new(o, "timeout_ms", json_integer((json_int_t)(a->timeout / 1000)));
  json_t *keys = json_array();
  for (size_t i = 0; i < a->n_keys; i++) {
    const ta_app_key_t *k = &a->keys[i];
    json_t *ko = json_object();
    json_object_set_new(ko, "fingerprint", json_string(k->fingerprint));
    json_object_set_new(ko, "alg", json_string(ta_alg_name(k->alg) ? ta_alg_name(k->alg) : "?"));
    json_object_set_new(ko, "not_before", k->not_before ? json_string(ta_regcmd_time_iso(p, k->not_before)) : json_null());
    json_object_set_new(ko, "not_after", k->not_after ? json_string(ta_regcmd_time_iso(p, k->not_after)) : json_null());
    json_object_set_new(ko, "valid_now", json_boolean(ta_app_key_valid_at(k, now)));
    json_array_append_new(keys, ko);
  }
  json_object_set_new(o, "keys", keys);
  json_object_set_new(o, "ips", string_array(a->ip_patterns, a->n_ip));
  json_object_set_new(o, "paths", string_array(a->path_prefixes, a->n_path));
  json_object_set_new(o, "users_allow", string_array(a->users_allow, a->n_users_allow));
  json_object_set_new(o, "users_deny", string_array(a->users_deny, a->n_users_deny));
  json_t *cc = json_null();
  if (a->client_cert_sha256 || a->client_cert_subject) {
    cc = json_object();
    if (a->client_cert_sha256)
      json_object_set_new(cc, "sha256", json_string(a->client_cert_sha256));
    if (a->client_cert_subject)
      json_object_set_new(cc, "subject", json_string(a->client_cert_subject));
    if (a->client_cert_issuer)
      json_object_set_new(cc, "issuer", json_string(a->client_cert_issuer));
  }
  json_object_set_new(o, "client_cert", cc);
  return o;
}

/* ------------------------------------------------------------ loading */

int ta_regcmd_load(ta_cli_t *c, const char *path, ta_registry_t **reg)
{
  const char *err = NULL;
  *reg = NULL;
  if (access(path, F_OK) != 0 && errno == ENOENT)
    return ta_cli_fail(c, TA_EXIT_FAILED, "registry-missing",
                       "create it with trustapp-admin add, or pass --registry FILE / TRUSTAPP_REGISTRY",
                       "registry %s does not exist", path);
  if (access(path, R_OK) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "registry-unreadable", "run as a user who may read the registry",
                       "cannot read %s: %s", path, strerror(errno));
  if (ta_registry_load(c->pool, path, reg, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_REGISTRY, "registry-invalid",
                       "correct the line named above, then run trustapp-admin validate",
                       "%s", err ? err : path);
  return TA_EXIT_OK;
}

static json_t *warnings_json(const ta_registry_t *r)
{
  const apr_array_header_t *w = ta_registry_warnings(r);
  json_t *a = json_array();
  for (int i = 0; i < w->nelts; i++)
    json_array_append_new(a, json_string(APR_ARRAY_IDX(w, i, const char *)));
  return a;
}

/* ------------------------------------------------------------ writing */

typedef struct edit_ctx edit_ctx_t;
typedef ta_status_t (*edit_step_fn)(edit_ctx_t *e, ta_regdoc_t *doc, const char **err);

struct edit_ctx {
  ta_cli_t *c;
  const char *id;
  edit_step_fn step;
  int edit_failed;          /* the edit itself refused (unknown id...), not validation */
  const char *fail_token;
  /* inputs prepared before taking the lock */
  const apr_array_header_t *keys;   /* ta_regcmd_key_t, for add */
  ta_regcmd_key_t key;              /* add-key */
  const char *fingerprint;          /* remove-key */
  int enabled;
};

static ta_status_t run_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  edit_ctx_t *e = baton;
  ta_status_t st = e->step(e, doc, err);
  if (st != TA_OK)
    e->edit_failed = 1;
  return st;
}

/* Writes through the locked updater; maps failures to exit codes. */
static int commit_edit(edit_ctx_t *e, int flags, ta_registry_t **out)
{
  ta_cli_t *c = e->c;
  const char *err = NULL;
  ta_registry_t *reg = NULL;
  ta_status_t st = ta_registry_update(c->pool, c->registry_path, flags, run_edit, e, &reg, &err);
  if (st == TA_OK) {
    if (out)
      *out = reg;
    json_object_set_new(c->result, "registry", json_string(c->registry_path));
    return TA_EXIT_OK;
  }
  if (e->edit_failed)
    return ta_cli_fail(c, TA_EXIT_FAILED, e->fail_token ? e->fail_token : "edit-refused",
                       e->fail_token && strcmp(e->fail_token, "key-not-removed") == 0
                           ? apr_psprintf(c->pool, "trustapp-admin show %s lists its key fingerprints; "
                                          "an application keeps at least one key", e->id)
                       : e->fail_token && strcmp(e->fail_token, "key-exists") == 0
                           ? "the application already has this key; generate a new key pair to rotate"
                       : e->fail_token && strcmp(e->fail_token, "app-exists") == 0
                           ? "choose another --id, or change the existing application with set/add-key"
                           : "see trustapp-admin list for the registered applications",
                       "%s",
                       err ? err : "the edit was refused");
  if (st == TA_E_CONFIG) {
    /* Was the file already invalid, or did this edit make it so? */
    ta_registry_t *current;
    const char *lerr = NULL;
    if (access(c->registry_path, F_OK) == 0 &&
        ta_registry_load(c->pool, c->registry_path, &current, &lerr) != TA_OK)
      return ta_cli_fail(c, TA_EXIT_REGISTRY, "registry-invalid",
                         "repair the registry first (trustapp-admin validate names the line)",
                         "%s", lerr ? lerr : c->registry_path);
    return ta_cli_fail(c, TA_EXIT_FAILED, "invalid-value", "nothing was written; correct the value named",
                       "%s", err ? err : "the edited registry is invalid");
  }
  return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed", "check the registry path and its permissions",
                     "%s", err ? err : "cannot write the registry");
}

/* ------------------------------------------------------------ input checks */

static int check_ips(ta_cli_t *c, const char *opt, apr_array_header_t *v)
{
  ta_ip_set_t *set;
  const char *err = NULL;
  if (v->nelts && ta_ip_set_parse(c->pool, (const char *const *)v->elts, (size_t)v->nelts, &set, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, "invalid-value",
                       "use an exact address, CIDR (10.0.0.0/8, 2001:db8::/32) or trailing wildcards (192.168.*.*)",
                       "--%s: %s", opt, err ? err : "invalid IP pattern");
  return TA_EXIT_OK;
}

static int check_paths(ta_cli_t *c, const char *opt, apr_array_header_t *v)
{
  ta_path_set_t *set;
  const char *err = NULL;
  if (v->nelts && ta_path_set_parse(c->pool, (const char *const *)v->elts, (size_t)v->nelts, &set, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, "invalid-value", "path prefixes start with '/', e.g. /rest",
                       "--%s: %s", opt, err ? err : "invalid path prefix");
  return TA_EXIT_OK;
}

static int check_users(ta_cli_t *c, apr_array_header_t *allow, apr_array_header_t *deny)
{
  ta_user_rules_t *rules;
  const char *err = NULL;
  if ((allow->nelts || deny->nelts) &&
      ta_user_rules_parse(c->pool, (const char *const *)allow->elts, (size_t)allow->nelts,
                          (const char *const *)deny->elts, (size_t)deny->nelts, &rules, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, "invalid-value",
                       "user entries are names or a prefix with a trailing '*'", "--user-allow/--user-deny: %s",
                       err ? err : "invalid user rule");
  return TA_EXIT_OK;
}

static int parse_timeout(ta_cli_t *c, const char *s, long long *ms)
{
  if (ta_cli_parse_duration_ms(s, ms) != 0 || *ms > 86400000LL)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "milliseconds like Jira (30000), or 30s, 5m; at most 24h",
                       "--timeout '%s' is not a duration up to one day", s);
  return TA_EXIT_OK;
}

/* "2026-01-31", "2026-01-31T12:00:00Z" -> apr_time_t */
static int parse_date(ta_cli_t *c, const char *opt, const char *s, apr_time_t *out)
{
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == NULL || *end) {
    memset(&tm, 0, sizeof tm);
    end = strptime(s, "%Y-%m-%d", &tm);
  }
  if (end == NULL || *end)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)",
                       "--%s '%s' is not a date", opt, s);
  time_t t = timegm(&tm);
  *out = apr_time_from_sec(t);
  return TA_EXIT_OK;
}

/* Loads a public key file (PEM/DER/JWK) into a key to register. */
int ta_regcmd_public_key(ta_cli_t *c, const char *data, size_t len, const char *alg_name,
                         const char *what, ta_regcmd_key_t *out)
{
  ta_alg_t want = TA_ALG_NONE;
  if (alg_name && (want = (ta_alg_t)ta_cli_alg(alg_name)) == TA_ALG_NONE)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "use ed25519, ecdsa-p256-sha256, ecdsa-p384-sha384, rsa-pss-sha512 or rsa-v1_5-sha256",
                       "unknown --alg '%s'", alg_name);
  ta_key_t *key;
  const char *err = NULL;
  if (ta_key_load_public(c->pool, data, len, want, &key, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_KEY_INVALID),
                       want == TA_ALG_NONE ? "an RSA key needs --alg rsa-pss-sha512 or rsa-v1_5-sha256; "
                                             "otherwise give an ed25519/ecdsa key or RSA >= 2048 bits"
                                           : ta_error_fix(TA_E_KEY_INVALID),
                       "%s: %s", what, err ? err : "not a usable public key");
  memset(out, 0, sizeof *out);
  out->pem = ta_key_public_pem(c->pool, key);
  /* RSA keys always carry their algorithm; the others are inferred unless asked */
  out->alg = want;
  if (want == TA_ALG_NONE && (ta_key_alg(key) == TA_ALG_RSA_PSS_SHA512 || ta_key_alg(key) == TA_ALG_RSA_V1_5_SHA256))
    out->alg = ta_key_alg(key);
  out->fingerprint = ta_key_fingerprint(c->pool, key);
  return TA_EXIT_OK;
}

/* ------------------------------------------------------------ add */

static ta_status_t set_lists(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  static const struct { const char *opt; ta_regdoc_list_t which; } lists[] = {
    {"ip", TA_REGDOC_IP}, {"path", TA_REGDOC_PATH},
    {"user-allow", TA_REGDOC_USER_ALLOW}, {"user-deny", TA_REGDOC_USER_DENY}, {NULL, 0}
  };
  ta_status_t st = TA_OK;
  for (size_t i = 0; lists[i].opt && st == TA_OK; i++) {
    apr_array_header_t *v = ta_cli_opt_all(e->c, lists[i].opt);
    if (v->nelts || ta_cli_flag(e->c, apr_pstrcat(e->c->pool, "clear-", lists[i].opt, NULL)))
      st = ta_regdoc_set_list(doc, e->id, lists[i].which, (const char *const *)v->elts,
                              (size_t)v->nelts, err);
  }
  static const struct { const char *opt; ta_regdoc_list_t which; int add; } items[] = {
    {"add-ip", TA_REGDOC_IP, 1}, {"remove-ip", TA_REGDOC_IP, 0},
    {"add-path", TA_REGDOC_PATH, 1}, {"remove-path", TA_REGDOC_PATH, 0}, {NULL, 0, 0}
  };
  for (size_t i = 0; items[i].opt && st == TA_OK; i++) {
    apr_array_header_t *v = ta_cli_opt_all(e->c, items[i].opt);
    for (int j = 0; j < v->nelts && st == TA_OK; j++) {
      const char *val = APR_ARRAY_IDX(v, j, const char *);
      st = items[i].add ? ta_regdoc_add_list_item(doc, e->id, items[i].which, val, err)
                        : ta_regdoc_remove_list_item(doc, e->id, items[i].which, val, err);
    }
  }
  return st;
}

static ta_status_t set_scalars(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  ta_cli_t *c = e->c;
  ta_status_t st = TA_OK;
  const char *v;
  if ((v = ta_cli_opt(c, "name")) && st == TA_OK)
    st = ta_regdoc_set_name(doc, e->id, *v ? v : NULL, err);
  if ((v = ta_cli_opt(c, "timeout")) && st == TA_OK) {
    long long ms = -1;
    if (strcmp(v, "default") != 0)
      ta_cli_parse_duration_ms(v, &ms);  /* checked before the lock */
    st = ta_regdoc_set_timeout_ms(doc, e->id, ms, err);
  }
  if ((v = ta_cli_opt(c, "protocols")) && st == TA_OK)
    st = ta_regdoc_set_protocols(doc, e->id, strcmp(v, "any") == 0 ? NULL : v, err);
  if ((v = ta_cli_opt(c, "cert-sha256")) && st == TA_OK) {
    char *hex = apr_pstrdup(c->pool, v), *w = hex;
    for (const char *r = v; *r; r++)  /* accept the AB:CD:.. form tls-fetch prints */
      if (*r != ':')
        *w++ = (char)(*r >= 'A' && *r <= 'F' ? *r + 32 : *r);
    *w = '\0';
    st = ta_regdoc_set_client_cert(doc, e->id, *hex && strcmp(hex, "none") != 0 ? hex : NULL, NULL, NULL, err);
  }
  if (st == TA_OK)
    st = set_lists(e, doc, err);
  return st;
}

static ta_status_t step_add(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "app-exists";
    *err = apr_psprintf(e->c->pool, "application '%s' is already registered", e->id);
    return TA_E_CONFIG;
  }
  ta_status_t st = ta_regdoc_add_app(doc, e->id, ta_cli_opt(e->c, "name"), err);
  for (int i = 0; st == TA_OK && i < e->keys->nelts; i++) {
    const ta_regcmd_key_t *k = &APR_ARRAY_IDX(e->keys, i, ta_regcmd_key_t);
    st = ta_regdoc_add_key(doc, e->id, k->pem, k->alg, k->not_before, k->not_after, err);
  }
  if (st == TA_OK)
    st = set_scalars(e, doc, err);
  if (st == TA_OK && ta_cli_flag(e->c, "disabled"))
    st = ta_regdoc_set_enabled(doc, e->id, 0, err);
  return st;
}

/* Checks every option value that needs no registry, before the lock. */
static int check_edit_options(ta_cli_t *c)
{
  int rc;
  long long ms;
  const char *t = ta_cli_opt(c, "timeout");
  if (t && strcmp(t, "default") != 0 && (rc = parse_timeout(c, t, &ms)) != TA_EXIT_OK)
    return rc;
  apr_array_header_t *ips = ta_cli_opt_all(c, "ip");
  apr_array_header_t *more_ips = ta_cli_opt_all(c, "add-ip");
  apr_array_header_t *paths = ta_cli_opt_all(c, "path");
  apr_array_header_t *more_paths = ta_cli_opt_all(c, "add-path");
  if ((rc = check_ips(c, "ip", ips)) || (rc = check_ips(c, "add-ip", more_ips)) ||
      (rc = check_paths(c, "path", paths)) || (rc = check_paths(c, "add-path", more_paths)) ||
      (rc = check_users(c, ta_cli_opt_all(c, "user-allow"), ta_cli_opt_all(c, "user-deny"))))
    return rc;
  const char *p = ta_cli_opt(c, "protocols");
  unsigned mask;
  const char *err = NULL;
  if (p && strcmp(p, "any") != 0 && ta_registry_parse_protocols(c->pool, p, &mask, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, "invalid-value", "use any of: rfc9421 seraph mtls (space separated)",
                       "--protocols: %s", err ? err : p);
  return TA_EXIT_OK;
}

static void report_app(ta_cli_t *c, const ta_registry_t *reg, const char *id, const char *verb)
{
  const ta_app_t *a = reg ? ta_registry_find(reg, id) : NULL;
  if (a)
    json_object_set_new(c->result, "application", app_json(c->pool, a, 1));
  json_t *warn = json_array();
  if (a && a->n_ip == 0)
    json_array_append_new(warn, json_string("no --ip yet: native requests from this application are refused until an address is allowed"));
  if (a && a->n_path == 0)
    json_array_append_new(warn, json_string("no --path yet: native requests may reach no path until a prefix is allowed"));
  if (json_array_size(warn))
    json_object_set_new(c->result, "warnings", warn);
  else
    json_decref(warn);
  ta_out_textf(c, "%s application '%s' in %s\n", verb, id, c->registry_path);
  for (size_t i = 0; i < json_array_size(json_object_get(c->result, "warnings")); i++)
    ta_out_textf(c, "warning: %s\n",
                 json_string_value(json_array_get(json_object_get(c->result, "warnings"), i)));
}

int ta_regcmd_add_app(ta_cli_t *c, const char *id, const apr_array_header_t *keys)
{
  int rc = check_edit_options(c);
  if (rc != TA_EXIT_OK)
    return rc;
  edit_ctx_t e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.id = id;
  e.step = step_add;
  e.keys = keys;
  ta_registry_t *reg = NULL;
  if ((rc = commit_edit(&e, TA_REGISTRY_CREATE, &reg)) != TA_EXIT_OK)
    return rc;
  report_app(c, reg, id, "added");
  return TA_EXIT_OK;
}

static int run_add(ta_cli_t *c)
{
  const char *url = ta_cli_opt(c, "url"), *keyfile = ta_cli_opt(c, "public-key");
  if ((url == NULL) == (keyfile == NULL))
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "trustapp-admin add --url https://peer.example.com  or  add --public-key FILE --id ID",
                       "add needs exactly one of --url or --public-key");
  int rc = check_edit_options(c);  /* before any network traffic */
  if (rc != TA_EXIT_OK)
    return rc;
  if (url)
    return ta_regcmd_add_from_url(c, url);
  const char *id = ta_cli_opt(c, "id");
  if (id == NULL)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "add --id ID (the peer's keyid / application ID)",
                       "--public-key needs --id");
  char *data;
  size_t len;
  const char *err;
  if (ta_cli_read_file(c, keyfile, 1024 * 1024, &data, &len, &err) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "key-unreadable", NULL, "%s", err);
  apr_array_header_t *keys = apr_array_make(c->pool, 1, sizeof(ta_regcmd_key_t));
  if ((rc = ta_regcmd_public_key(c, data, len, ta_cli_opt(c, "alg"), keyfile,
                                 &APR_ARRAY_PUSH(keys, ta_regcmd_key_t))))
    return rc;
  return ta_regcmd_add_app(c, id, keys);
}

/* ------------------------------------------------------------ list / show / validate */

static int run_list(ta_cli_t *c)
{
  ta_registry_t *reg;
  int rc = ta_regcmd_load(c, c->registry_path, &reg);
  if (rc != TA_EXIT_OK)
    return rc;
  json_t *apps = json_array();
  size_t n = ta_registry_count(reg);
  ta_out_textf(c, "%-32s %-8s %-5s %-4s %-5s %s\n", "ID", "ENABLED", "KEYS", "IPS", "PATHS", "NAME");
  for (size_t i = 0; i < n; i++) {
    const ta_app_t *a = ta_registry_app(reg, i);
    json_array_append_new(apps, app_json(c->pool, a, 0));
    /* APR's formatter has no %zu */
    ta_out_textf(c, "%-32s %-8s %-5lu %-4lu %-5lu %s\n", a->id, a->enabled ? "yes" : "no",
                 (unsigned long)a->n_keys, (unsigned long)a->n_ip, (unsigned long)a->n_path,
                 a->name ? a->name : "");
  }
  ta_out_textf(c, "%lu application(s) in %s\n", (unsigned long)n, c->registry_path);
  json_object_set_new(c->result, "registry", json_string(c->registry_path));
  json_object_set_new(c->result, "count", json_integer((json_int_t)n));
  json_object_set_new(c->result, "applications", apps);
  return TA_EXIT_OK;
}

static int run_show(ta_cli_t *c)
{
  ta_registry_t *reg;
  int rc = ta_regcmd_load(c, c->registry_path, &reg);
  if (rc != TA_EXIT_OK)
    return rc;
  const char *id = ta_cli_arg(c, 0);
  const ta_app_t *a = ta_registry_find(reg, id);
  if (a == NULL)
    return ta_cli_fail(c, TA_EXIT_FAILED, "unknown-app", "see trustapp-admin list",
                       "no application '%s' in %s", id, c->registry_path);
  json_object_set_new(c->result, "application", app_json(c->pool, a, 1));
  return TA_EXIT_OK;
}

static int run_validate(ta_cli_t *c)
{
  const char *path = ta_cli_arg(c, 0) ? ta_cli_arg(c, 0) : c->registry_path;
  ta_registry_t *reg;
  int rc = ta_regcmd_load(c, path, &reg);
  json_object_set_new(c->result, "file", json_string(path));
  json_object_set_new(c->result, "valid", json_boolean(rc == TA_EXIT_OK));
  if (rc != TA_EXIT_OK)
    return rc;
  json_object_set_new(c->result, "applications", json_integer((json_int_t)ta_registry_count(reg)));
  json_object_set_new(c->result, "warnings", warnings_json(reg));
  ta_out_textf(c, "%s: valid, %lu application(s)\n", path, (unsigned long)ta_registry_count(reg));
  const apr_array_header_t *w = ta_registry_warnings(reg);
  for (int i = 0; i < w->nelts; i++)
    ta_out_textf(c, "warning: %s\n", APR_ARRAY_IDX(w, i, const char *));
  return TA_EXIT_OK;
}

/* ------------------------------------------------------------ set / remove / enable / disable */

static ta_status_t step_set(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (!ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "unknown-app";
    *err = apr_psprintf(e->c->pool, "no application '%s' in %s", e->id, e->c->registry_path);
    return TA_E_CONFIG;
  }
  return set_scalars(e, doc, err);
}

static ta_status_t step_remove(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (!ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "unknown-app";
    *err = apr_psprintf(e->c->pool, "no application '%s' in %s", e->id, e->c->registry_path);
    return TA_E_CONFIG;
  }
  return ta_regdoc_remove_app(doc, e->id, err);
}

static ta_status_t step_enable(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (!ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "unknown-app";
    *err = apr_psprintf(e->c->pool, "no application '%s' in %s", e->id, e->c->registry_path);
    return TA_E_CONFIG;
  }
  return ta_regdoc_set_enabled(doc, e->id, e->enabled, err);
}

static ta_status_t step_add_key(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (!ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "unknown-app";
    *err = apr_psprintf(e->c->pool, "no application '%s' in %s", e->id, e->c->registry_path);
    return TA_E_CONFIG;
  }
  e->fail_token = "key-exists";  /* the one refusal left once the app exists */
  return ta_regdoc_add_key(doc, e->id, e->key.pem, e->key.alg, e->key.not_before, e->key.not_after, err);
}

static ta_status_t step_remove_key(edit_ctx_t *e, ta_regdoc_t *doc, const char **err)
{
  if (!ta_regdoc_has_app(doc, e->id)) {
    e->fail_token = "unknown-app";
    *err = apr_psprintf(e->c->pool, "no application '%s' in %s", e->id, e->c->registry_path);
    return TA_E_CONFIG;
  }
  /* refused for an unknown fingerprint or the application's last key */
  e->fail_token = "key-not-removed";
  return ta_regdoc_remove_key(doc, e->id, e->fingerprint, err);
}

static int simple_edit(ta_cli_t *c, edit_step_fn step, int enabled, const char *verb)
{
  edit_ctx_t e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.id = ta_cli_arg(c, 0);
  e.step = step;
  e.enabled = enabled;
  ta_registry_t *reg = NULL;
  int rc = commit_edit(&e, 0, &reg);
  if (rc != TA_EXIT_OK)
    return rc;
  json_object_set_new(c->result, "id", json_string(e.id));
  if (step == step_remove)
    ta_out_textf(c, "removed application '%s' from %s\n", e.id, c->registry_path);
  else
    report_app(c, reg, e.id, verb);
  return TA_EXIT_OK;
}

static int run_set(ta_cli_t *c)
{
  int rc = check_edit_options(c);
  if (rc != TA_EXIT_OK)
    return rc;
  if (c->opts->nelts == 0)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "see trustapp-admin set --help", "set: nothing to change");
  return simple_edit(c, step_set, 0, "updated");
}

static int run_remove(ta_cli_t *c) { return simple_edit(c, step_remove, 0, "removed"); }
static int run_enable(ta_cli_t *c) { return simple_edit(c, step_enable, 1, "enabled"); }
static int run_disable(ta_cli_t *c) { return simple_edit(c, step_enable, 0, "disabled"); }

static int run_add_key(ta_cli_t *c)
{
  edit_ctx_t e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.id = ta_cli_arg(c, 0);
  e.step = step_add_key;
  int rc;
  const char *v;
  apr_time_t nb = 0, na = 0;
  if ((v = ta_cli_opt(c, "not-before")) && (rc = parse_date(c, "not-before", v, &nb)))
    return rc;
  if ((v = ta_cli_opt(c, "not-after")) && (rc = parse_date(c, "not-after", v, &na)))
    return rc;
  if (nb && na && na <= nb)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "--not-after must lie after --not-before");
  char *data;
  size_t len;
  const char *err;
  if (ta_cli_read_file(c, ta_cli_arg(c, 1), 1024 * 1024, &data, &len, &err) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "key-unreadable", NULL, "%s", err);
  if ((rc = ta_regcmd_public_key(c, data, len, ta_cli_opt(c, "alg"), ta_cli_arg(c, 1), &e.key)))
    return rc;
  e.key.not_before = nb;
  e.key.not_after = na;
  ta_registry_t *reg = NULL;
  if ((rc = commit_edit(&e, 0, &reg)) != TA_EXIT_OK)
    return rc;
  json_object_set_new(c->result, "fingerprint", json_string(e.key.fingerprint));
  report_app(c, reg, e.id, "added key to");
  ta_out_textf(c, "fingerprint: %s\n", e.key.fingerprint);
  return TA_EXIT_OK;
}

static int run_remove_key(ta_cli_t *c)
{
  edit_ctx_t e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.id = ta_cli_arg(c, 0);
  e.fingerprint = ta_cli_arg(c, 1);
  e.step = step_remove_key;
  ta_registry_t *reg = NULL;
  int rc = commit_edit(&e, 0, &reg);
  if (rc != TA_EXIT_OK)
    return rc;
  report_app(c, reg, e.id, "removed key from");
  return TA_EXIT_OK;
}

/* ------------------------------------------------------------ tables */

#define APP_OPTS \
  {"name", "NAME", 0, "display name (empty removes it)"}, \
  {"timeout", "MS", 0, "maximum request age in milliseconds like Jira (or 30s, 5m; 'default')"}, \
  {"ip", "PATTERN", 1, "allowed client address: exact, CIDR, or 192.168.*.* (replaces the list)"}, \
  {"path", "PREFIX", 1, "allowed URL path prefix, e.g. /rest (replaces the list)"}, \
  {"user-allow", "USER", 1, "users the app may act as (name or prefix*; replaces the list)"}, \
  {"user-deny", "USER", 1, "users the app may never act as (replaces the list)"}, \
  {"protocols", "LIST", 0, "\"rfc9421 seraph mtls\" subset, or 'any'"}, \
  {"cert-sha256", "HEX", 0, "bind a client certificate by SHA-256 ('none' removes)"}

static const ta_opt_spec_t add_opts[] = {
  {"url", "BASE", 0, "fetch the peer's certificate document from BASE over verified HTTPS"},
  {"public-key", "FILE", 0, "the peer's public key (PEM, DER or JWK)"},
  {"id", "ID", 0, "application ID (the keyid the peer signs with); required with --public-key"},
  {"alg", "ALG", 0, "signature algorithm (needed for RSA keys)"},
  {"disabled", NULL, 0, "register the application disabled"},
  APP_OPTS,
  {NULL, NULL, 0, NULL}
};

static const ta_opt_spec_t set_opts[] = {
  APP_OPTS,
  {"add-ip", "PATTERN", 1, "add one allowed address pattern"},
  {"remove-ip", "PATTERN", 1, "remove one address pattern"},
  {"add-path", "PREFIX", 1, "add one path prefix"},
  {"remove-path", "PREFIX", 1, "remove one path prefix"},
  {"clear-ip", NULL, 0, "remove every address pattern"},
  {"clear-path", NULL, 0, "remove every path prefix"},
  {"clear-user-allow", NULL, 0, "remove the allow list"},
  {"clear-user-deny", NULL, 0, "remove the deny list"},
  {NULL, NULL, 0, NULL}
};

static const ta_opt_spec_t add_key_opts[] = {
  {"alg", "ALG", 0, "signature algorithm (needed for RSA keys)"},
  {"not-before", "DATE", 0, "key valid from (YYYY-MM-DD[THH:MM:SSZ], UTC)"},
  {"not-after", "DATE", 0, "key valid until"},
  {NULL, NULL, 0, NULL}
};

const ta_cmd_t ta_cmd_add = {
  "add", "(--url BASE | --public-key FILE --id ID) [options]",
  "Register a peer application, from its certificate document (--url) or a key file.",
  add_opts, 0, 0, run_add,
  "trustapp-admin add --public-key confluence.pub --id confluence:5749012 --name Confluence "
  "--timeout 10000 --ip 10.0.0.0/24 --path /rest"
};
const ta_cmd_t ta_cmd_list = {"list", "", "List the registered applications.", NULL, 0, 0, run_list,
                              "trustapp-admin list --json"};
const ta_cmd_t ta_cmd_show = {"show", "ID", "Show one application: keys, timeout, IPs, paths, users.",
                              NULL, 1, 1, run_show, "trustapp-admin show confluence:5749012"};
const ta_cmd_t ta_cmd_set = {"set", "ID [options]", "Change an application's settings.", set_opts, 1, 1,
                             run_set, "trustapp-admin set confluence:5749012 --add-ip 10.0.1.7 --timeout 30s"};
const ta_cmd_t ta_cmd_remove = {"remove", "ID", "Remove an application.", NULL, 1, 1, run_remove,
                                "trustapp-admin remove confluence:5749012"};
const ta_cmd_t ta_cmd_enable = {"enable", "ID", "Enable an application.", NULL, 1, 1, run_enable,
                                "trustapp-admin enable confluence:5749012"};
const ta_cmd_t ta_cmd_disable = {"disable", "ID", "Disable an application (its requests are refused).",
                                 NULL, 1, 1, run_disable, "trustapp-admin disable confluence:5749012"};
const ta_cmd_t ta_cmd_add_key = {"add-key", "ID FILE [--not-before DATE] [--not-after DATE]",
                                 "Add a public key to an application (key rotation).", add_key_opts, 2, 2,
                                 run_add_key,
                                 "trustapp-admin add-key confluence:5749012 new.pub --not-before 2026-12-01"};
const ta_cmd_t ta_cmd_remove_key = {"remove-key", "ID FINGERPRINT", "Remove one key by its fingerprint.",
                                    NULL, 2, 2, run_remove_key,
                                    "trustapp-admin remove-key confluence:5749012 SHA256:Dbq...qE"};
const ta_cmd_t ta_cmd_validate = {"validate", "[FILE]",
                                  "Check a registry file (schema + semantics) exactly as the module loads it.",
                                  NULL, 0, 1, run_validate, "trustapp-admin validate /etc/apache2/trustedapp/registry.xml"};

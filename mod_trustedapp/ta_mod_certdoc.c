/* Serves this server's certificate document (docs/CERTIFICATE.md) at
 * TrustedAppCertificatePath, and the legacy Seraph text document
 * (docs/SERAPH.md) at TrustedAppSeraphCertificatePath, so peers can register
 * it with `trustapp-admin add --url` (or a Jira-style admin screen). Built once per (re)start in the parent, as
 * root, from the registry's <self id key-file>: the private key file stays
 * readable by root only, and only the public half is published. Answered
 * from the quick handler, before authentication: the document is public. */
#include "mod_trustedapp.h"

#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "http_protocol.h"

#include "ta_certdoc.h"
#include "ta_keys.h"
#include "ta_seraph_codec.h"

/* The legacy protocol version this server's document announces (v2: URL-signed). */
#define TA_SERAPH_DOC_VERSION 2

/* key-file as written: absolute, or relative to the registry's directory. */
static const char *key_path(apr_pool_t *p, const char *registry_path, const char *key_file)
{
  const char *slash;
  if (key_file[0] == '/')
    return key_file;
  slash = strrchr(registry_path, '/');
  if (!slash)
    return key_file;
  return apr_pstrcat(p, apr_pstrmemdup(p, registry_path, (apr_size_t)(slash - registry_path + 1)),
                     key_file, NULL);
}

/* The registry's <self> private key, read once per (re)start; the key text
 * is wiped as soon as it is parsed. */
static ta_key_t *load_self_key(apr_pool_t *p, const ta_registry_t *reg, const char *registry_path,
                               const char *alg_name, const ta_self_t **self_out, const char **err)
{
  const ta_self_t *self = ta_registry_self(reg);
  const char *path;
  char *pem = NULL;
  apr_size_t len = 0;
  apr_file_t *f;
  apr_finfo_t fi;
  ta_key_t *key = NULL;
  ta_alg_t alg = alg_name ? ta_alg_from_name(alg_name) : TA_ALG_NONE;
  const char *kerr = NULL;

  if (!self || !self->id || !self->key_file) {
    *err = "the registry has no <self id=\"...\" key-file=\"...\"/>";
    return NULL;
  }
  path = key_path(p, registry_path, self->key_file);
  if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p) != APR_SUCCESS
      || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size <= 0
      || fi.size > TA_KEY_MAX_INPUT) {
    *err = apr_psprintf(p, "cannot read the key file %s", path);
    return NULL;
  }
  len = (apr_size_t)fi.size;
  pem = apr_palloc(p, len + 1);
  if (apr_file_read_full(f, pem, len, &len) != APR_SUCCESS) {
    apr_file_close(f);
    *err = apr_psprintf(p, "cannot read the key file %s", path);
    return NULL;
  }
  apr_file_close(f);
  pem[len] = '\0';
  if (ta_key_load_private(p, pem, len, alg, &key, &kerr) != TA_OK) {
    memset(pem, 0, len);
    *err = apr_psprintf(p, "key file %s: %s%s", path, kerr ? kerr : "not a usable private key",
                        alg == TA_ALG_NONE ? " (RSA keys need the algorithm as second argument)" : "");
    return NULL;
  }
  memset(pem, 0, len);   /* the private key text is not needed any more */
  *self_out = self;
  return key;
}

static const char *build_document(apr_pool_t *p, const ta_self_t *self, ta_key_t *key,
                                  const char **err)
{
  ta_certdoc_t *doc = ta_certdoc_make(p, self->id, self->name);
  const char *json;
  if (!doc || ta_certdoc_add_key(p, doc, key, 0, 0) != TA_OK
      || ta_certdoc_add_protocol(p, doc, TA_CERTDOC_PROTO_RFC9421) != TA_OK
      || !(json = ta_certdoc_serialize(p, doc))) {
    *err = "the certificate document could not be built";
    return NULL;
  }
  return json;
}

static const char *build_seraph_document(apr_pool_t *p, const ta_self_t *self, const ta_key_t *key,
                                         const char **err)
{
  char *text = ta_seraph_certdoc_format(p, self->id, key, TA_SERAPH_DOC_VERSION);
  if (!text)
    *err = "the legacy document needs an RSA <self> key (and an id without line breaks)";
  return text;
}

static void log_not_served(server_rec *s, apr_pool_t *ptemp, const char *directive,
                           const char *path, const char *why)
{
  ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s %s %s is not served: %s",
               ta_mod_tag(ptemp, TA_E_CONFIG), directive, path, why);
}

int ta_mod_certdoc_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
  for (; s; s = s->next) {
    ta_srv_conf_t *sc = ap_get_module_config(s->module_config, &trustedapp_module);
    const ta_registry_t *reg;
    const ta_self_t *self = NULL;
    ta_key_t *key;
    const char *err = NULL;
    sc->cert_doc_json = NULL;
    sc->seraph_doc_text = NULL;
    if (!sc->cert_doc_path && !sc->seraph_doc_path)
      continue;
    reg = sc->registry ? ta_mod_registry_current(sc->registry) : NULL;
    key = reg ? load_self_key(ptemp, reg, sc->registry_path, sc->cert_doc_alg, &self, &err) : NULL;
    if (!reg)
      err = "this server has no TrustedAppRegistry";
    if (sc->cert_doc_path) {
      if (key)
        sc->cert_doc_json = build_document(pconf, self, key, &err);
      if (!sc->cert_doc_json)
        log_not_served(s, ptemp, "TrustedAppCertificatePath", sc->cert_doc_path, err);
    }
    if (sc->seraph_doc_path) {
      /* The legacy document only needs the RSA public half: no algorithm choice. */
      ta_key_t *legacy_key = key;
      if (!legacy_key && reg && !sc->cert_doc_alg)
        legacy_key = load_self_key(ptemp, reg, sc->registry_path, "rsa-v1_5-sha256", &self, &err);
      if (legacy_key)
        sc->seraph_doc_text = build_seraph_document(pconf, self, legacy_key, &err);
      if (!sc->seraph_doc_text)
        log_not_served(s, ptemp, "TrustedAppSeraphCertificatePath", sc->seraph_doc_path, err);
    }
  }
  return OK;
}

static int serve(request_rec *r, const char *body, const char *media_type)
{
  if (!body)
    return HTTP_NOT_FOUND;
  if (r->method_number != M_GET) {
    r->allowed = AP_METHOD_BIT << M_GET;
    return HTTP_METHOD_NOT_ALLOWED;
  }
  ap_set_content_type(r, media_type);
  apr_table_setn(r->headers_out, "Cache-Control", "max-age=300");
  ap_set_content_length(r, (apr_off_t)strlen(body));
  if (!r->header_only)
    ap_rputs(body, r);
  return OK;
}

int ta_mod_certdoc_quick_handler(request_rec *r, int lookup_uri)
{
  const ta_srv_conf_t *sc = ap_get_module_config(r->server->module_config, &trustedapp_module);
  if (lookup_uri || !r->parsed_uri.path)
    return DECLINED;
  if (sc->cert_doc_path && !strcmp(r->parsed_uri.path, sc->cert_doc_path))
    return serve(r, sc->cert_doc_json, TA_CERTDOC_MEDIA_TYPE);
  if (sc->seraph_doc_path && !strcmp(r->parsed_uri.path, sc->seraph_doc_path))
    return serve(r, sc->seraph_doc_text, "text/plain");
  return DECLINED;
}

/* Serves this server's certificate document (docs/CERTIFICATE.md) at
 * TrustedAppCertificatePath, so peers can register it with
 * `trustapp-admin add --url`. Built once per (re)start in the parent, as
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

static const char *build_document(apr_pool_t *p, const ta_registry_t *reg, const char *registry_path,
                                  const char *alg_name, const char **err)
{
  const ta_self_t *self = ta_registry_self(reg);
  const char *path;
  char *pem = NULL;
  apr_size_t len = 0;
  apr_file_t *f;
  apr_finfo_t fi;
  ta_key_t *key = NULL;
  ta_certdoc_t *doc;
  ta_alg_t alg = alg_name ? ta_alg_from_name(alg_name) : TA_ALG_NONE;
  const char *kerr = NULL, *json;

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
  doc = ta_certdoc_make(p, self->id, self->name);
  if (!doc || ta_certdoc_add_key(p, doc, key, 0, 0) != TA_OK
      || ta_certdoc_add_protocol(p, doc, TA_CERTDOC_PROTO_RFC9421) != TA_OK
      || !(json = ta_certdoc_serialize(p, doc))) {
    *err = "the certificate document could not be built";
    return NULL;
  }
  return json;
}

int ta_mod_certdoc_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
  for (; s; s = s->next) {
    ta_srv_conf_t *sc = ap_get_module_config(s->module_config, &trustedapp_module);
    const ta_registry_t *reg;
    const char *err = NULL;
    sc->cert_doc_json = NULL;
    if (!sc->cert_doc_path)
      continue;
    reg = sc->registry ? ta_mod_registry_current(sc->registry) : NULL;
    if (!reg) {
      ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s TrustedAppCertificatePath %s is not served: "
                   "this server has no TrustedAppRegistry", ta_mod_tag(ptemp, TA_E_CONFIG),
                   sc->cert_doc_path);
      continue;
    }
    sc->cert_doc_json = build_document(pconf, reg, sc->registry_path, sc->cert_doc_alg, &err);
    if (!sc->cert_doc_json)
      ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s TrustedAppCertificatePath %s is not served: %s",
                   ta_mod_tag(ptemp, TA_E_CONFIG), sc->cert_doc_path, err);
  }
  return OK;
}

int ta_mod_certdoc_quick_handler(request_rec *r, int lookup_uri)
{
  const ta_srv_conf_t *sc = ap_get_module_config(r->server->module_config, &trustedapp_module);
  if (lookup_uri || !sc->cert_doc_path || !r->parsed_uri.path
      || strcmp(r->parsed_uri.path, sc->cert_doc_path))
    return DECLINED;
  if (!sc->cert_doc_json)
    return HTTP_NOT_FOUND;
  if (r->method_number != M_GET) {
    r->allowed = AP_METHOD_BIT << M_GET;
    return HTTP_METHOD_NOT_ALLOWED;
  }
  ap_set_content_type(r, TA_CERTDOC_MEDIA_TYPE);
  apr_table_setn(r->headers_out, "Cache-Control", "max-age=300");
  ap_set_content_length(r, (apr_off_t)strlen(sc->cert_doc_json));
  if (!r->header_only)
    ap_rputs(sc->cert_doc_json, r);
  return OK;
}

/* Certificate documents: `cert` prints this application's published
 * identity (application ID + public keys); `add --url` fetches a peer's
 * over verified HTTPS and registers it. The native JSON document
 * (TA_CERTDOC_PATH) is tried first; the legacy Atlassian text document
 * (/admin/appTrustCertificate) is recognised so Jira/Confluence-style peers
 * can be added unchanged. */
#include "ta_cli.h"
#include "ta_http.h"
#include "ta_regcmd.h"

#include <string.h>

#include <apr_strings.h>

#include "ta_certdoc.h"
#include "ta_registry.h"
#include "ta_seraph_codec.h"

static const char *strip_trailing_slashes(apr_pool_t *p, const char *url)
{
  size_t n = strlen(url);
  while (n > 8 && url[n - 1] == '/')
    n--;
  return apr_pstrndup(p, url, n);
}

static void push_default_opt(ta_cli_t *c, const char *name, const char *value)
{
  if (ta_cli_opt(c, name) != NULL)
    return;
  ta_opt_value_t *ov = &APR_ARRAY_PUSH(c->opts, ta_opt_value_t);
  ov->name = name;
  ov->value = value;
}

static int check_id(ta_cli_t *c, const char *published)
{
  const char *want_id = ta_cli_opt(c, "id");
  if (want_id && strcmp(want_id, published) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "id-mismatch", "drop --id, or check that --url points at the intended peer",
                       "the peer calls itself '%s', not '%s'", published, want_id);
  return TA_EXIT_OK;
}

static int fetch(ta_cli_t *c, const char *url, ta_http_resp_t *resp)
{
  ta_http_req_t req = {0};
  req.url = url;
  req.https_only = 1;
  int rc = ta_http_perform(c, &req, resp);
  json_object_set_new(c->result, "tls_chain", ta_tls_chain_json(resp->tls));
  if (rc != TA_EXIT_OK)
    ta_out_textf(c, "%s", ta_tls_chain_text(c->pool, resp->tls));
  return rc;
}

static int add_native(ta_cli_t *c, const char *base, const char *url, const ta_http_resp_t *resp)
{
  ta_certdoc_t *doc;
  const char *err = NULL;
  if (resp->body_truncated ||
      ta_certdoc_parse(c->pool, resp->body, resp->body_len, &doc, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_CERTDOC_INVALID), ta_error_fix(TA_E_CERTDOC_INVALID),
                       "%s: %s", url, err ? err : ta_error_summary(TA_E_CERTDOC_INVALID));
  int rc = check_id(c, doc->id);
  if (rc != TA_EXIT_OK)
    return rc;
  apr_array_header_t *keys = apr_array_make(c->pool, (int)doc->n_keys, sizeof(ta_regcmd_key_t));
  for (size_t i = 0; i < doc->n_keys; i++) {
    ta_regcmd_key_t *k = &APR_ARRAY_PUSH(keys, ta_regcmd_key_t);
    k->pem = doc->keys[i].public_key_pem;
    k->alg = doc->keys[i].alg;
    k->not_before = doc->keys[i].not_before;
    k->not_after = doc->keys[i].not_after;
    k->fingerprint = doc->keys[i].fingerprint;
  }
  /* The protocols the peer declares (that this registry knows) bound what it may use. */
  const char *protocols = NULL;
  for (size_t i = 0; i < doc->n_protocols; i++)
    if (strcmp(doc->protocols[i], TA_CERTDOC_PROTO_RFC9421) == 0 || strcmp(doc->protocols[i], TA_CERTDOC_PROTO_SERAPH) == 0)
      protocols = protocols ? apr_pstrcat(c->pool, protocols, " ", doc->protocols[i], NULL) : doc->protocols[i];
  if (protocols)
    push_default_opt(c, "protocols", protocols);
  push_default_opt(c, "name", doc->name ? doc->name : base);
  json_object_set_new(c->result, "document", json_string(TA_CERTDOC_FORMAT));
  return ta_regcmd_add_app(c, doc->id, keys);
}

static int add_legacy(ta_cli_t *c, const char *base, const char *url, const ta_http_resp_t *resp)
{
  ta_seraph_certdoc_t doc;
  const char *err = NULL;
  if (resp->body_truncated || ta_seraph_certdoc_parse(c->pool, resp->body, resp->body_len, &doc, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_SERAPH_CERTDOC), ta_error_fix(TA_E_SERAPH_CERTDOC),
                       "%s: %s", url, err ? err : ta_error_summary(TA_E_SERAPH_CERTDOC));
  int rc = check_id(c, doc.app_id);
  if (rc != TA_EXIT_OK)
    return rc;
  apr_array_header_t *keys = apr_array_make(c->pool, 1, sizeof(ta_regcmd_key_t));
  /* A legacy peer signs with its RSA key in the Seraph protocol only. */
  if ((rc = ta_regcmd_public_key(c, doc.public_pem, strlen(doc.public_pem),
                                 ta_cli_opt(c, "alg") ? ta_cli_opt(c, "alg") : "rsa-v1_5-sha256", url,
                                 &APR_ARRAY_PUSH(keys, ta_regcmd_key_t))))
    return rc;
  json_object_set_new(c->result, "document", json_string("seraph"));
  json_object_set_new(c->result, "document_version", json_integer(doc.version));
  push_default_opt(c, "name", base);
  push_default_opt(c, "protocols", "seraph");
  return ta_regcmd_add_app(c, doc.app_id, keys);
}

int ta_regcmd_add_from_url(ta_cli_t *c, const char *base_url)
{
  if (strncmp(base_url, "https://", 8) != 0)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "the peer's identity must come over verified HTTPS: use https://, or --public-key with a key "
                       "file obtained out of band",
                       "--url '%s' is not an https:// URL", base_url);
  const char *base = strip_trailing_slashes(c->pool, base_url);
  const char *native_url = apr_pstrcat(c->pool, base, TA_CERTDOC_PATH, NULL);
  ta_http_resp_t resp;
  json_object_set_new(c->result, "source", json_string(native_url));
  int rc = fetch(c, native_url, &resp);
  if (rc != TA_EXIT_OK)
    return rc;
  if (resp.status == 200)
    return add_native(c, base, native_url, &resp);
  const char *legacy_url = apr_pstrcat(c->pool, base, TA_SERAPH_CERT_PATH, NULL);
  json_object_set_new(c->result, "source", json_string(legacy_url));
  long native_status = resp.status;
  if ((rc = fetch(c, legacy_url, &resp)) != TA_EXIT_OK)
    return rc;
  if (resp.status == 200)
    return add_legacy(c, base, legacy_url, &resp);
  return ta_cli_fail(c, TA_EXIT_REFUSED, "no-certificate-document",
                     "check the base URL (the peer's external URL, as in Jira's 'Base URL' field) and that the peer "
                     "publishes its trusted-application certificate (trustapp-admin cert on the peer)",
                     "neither %s (%ld) nor %s (%ld) is a certificate document", native_url, native_status, legacy_url,
                     resp.status);
}

/* ------------------------------------------------------------ cert */

static int run_cert(ta_cli_t *c)
{
  const char *id = ta_cli_opt(c, "id"), *name = ta_cli_opt(c, "name"), *key_file = ta_cli_opt(c, "key");
  if (id == NULL || key_file == NULL) {
    ta_registry_t *reg;
    int rc = ta_regcmd_load(c, c->registry_path, &reg);
    if (rc != TA_EXIT_OK)
      return rc;
    const ta_self_t *self = ta_registry_self(reg);
    if (self == NULL)
      return ta_cli_fail(c, TA_EXIT_FAILED, "no-self",
                         "add <self id=\"...\" key-file=\"...\"/> to the registry, or pass --id and --key",
                         "%s has no <self> entry", c->registry_path);
    id = id ? id : self->id;
    name = name ? name : self->name;
    key_file = key_file ? key_file : self->key_file;
    if (key_file == NULL)
      return ta_cli_fail(c, TA_EXIT_FAILED, "no-self-key", "add key-file=\"...\" to <self>, or pass --key",
                         "<self id=\"%s\"> names no key-file", id);
  }
  ta_key_t *key;
  int rc = ta_cli_load_private_key(c, key_file, ta_cli_opt(c, "alg"), &key);
  if (rc != TA_EXIT_OK)
    return rc;
  const char *format = ta_cli_opt(c, "format") ? ta_cli_opt(c, "format") : "native";
  const char *text;
  if (strcmp(format, "seraph") == 0) {
    text = ta_seraph_certdoc_format(c->pool, id, key, 2);
    if (text == NULL)
      return ta_cli_fail(c, TA_EXIT_FAILED, "key-invalid", "the legacy document needs an RSA key",
                         "cannot write a Seraph certificate document for this key or id");
    json_object_set_new(c->result, "document", json_string(text));
    text = apr_pstrcat(c->pool, text, "\n", NULL);
  } else if (strcmp(format, "native") == 0) {
    ta_certdoc_t *doc = ta_certdoc_make(c->pool, id, name);
    ta_status_t st = ta_certdoc_add_key(c->pool, doc, key, 0, 0);
    apr_array_header_t *protos = ta_cli_opt_all(c, "protocol");
    if (protos->nelts == 0)
      APR_ARRAY_PUSH(protos, const char *) = TA_CERTDOC_PROTO_RFC9421;
    for (int i = 0; st == TA_OK && i < protos->nelts; i++)
      st = ta_certdoc_add_protocol(c->pool, doc, APR_ARRAY_IDX(protos, i, const char *));
    text = st == TA_OK ? ta_certdoc_serialize(c->pool, doc) : NULL;
    if (text == NULL)
      return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(st == TA_OK ? TA_E_CERTDOC_INVALID : st), NULL,
                         "cannot build the certificate document for '%s' (check --id, --name and --protocol)", id);
    json_error_t jerr;
    json_object_set_new(c->result, "document", json_loads(text, 0, &jerr));
  } else {
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use --format native or seraph", "unknown --format '%s'", format);
  }
  json_object_set_new(c->result, "format", json_string(format));
  json_object_set_new(c->result, "fingerprint", json_string(ta_key_fingerprint(c->pool, key)));
  const char *out = ta_cli_opt(c, "out");
  if (out) {
    const char *err;
    if (ta_cli_write_file(c, out, text, strlen(text), 0644, 0, &err) != 0)
      return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed", NULL, "%s", err);
    json_object_set_new(c->result, "saved_to", json_string(out));
  }
  ta_out_textf(c, "%s", text);
  return TA_EXIT_OK;
}

static const ta_opt_spec_t cert_opts[] = {
  {"id", "ID", 0, "application ID (default: the registry's <self id>)"},
  {"key", "FILE", 0, "private key whose public half is published (default: <self key-file>)"},
  {"name", "NAME", 0, "display name (default: <self name>)"},
  {"alg", "ALG", 0, "key algorithm (needed for RSA keys)"},
  {"protocol", "PROTO", 1, "protocol this application speaks (default rfc9421; also seraph)"},
  {"format", "FORMAT", 0, "native (JSON, default) or seraph (legacy /admin/appTrustCertificate text)"},
  {"out", "FILE", 0, "also write the document to FILE (e.g. under the DocumentRoot)"},
  {NULL, NULL, 0, NULL}
};

const ta_cmd_t ta_cmd_cert = {
  "cert", "[--id ID --key FILE] [--format native|seraph] [--out FILE]",
  "Print this application's certificate document (ID + public key) for peers' `add --url`; "
  "serve it at " TA_CERTDOC_PATH ".",
  cert_opts, 0, 0, run_cert,
  "trustapp-admin cert --out /var/www/html/.well-known/trustedapp-certificate"
};

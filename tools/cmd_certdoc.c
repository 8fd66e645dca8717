/* Certificate documents: `add --url` fetches a peer's published identity
 * (application ID + public key) over verified HTTPS and registers it. The
 * legacy Atlassian document (/admin/appTrustCertificate, 4 text lines) is
 * recognised so Jira/Confluence-style peers can be added unchanged. */
#include "ta_cli.h"
#include "ta_http.h"
#include "ta_regcmd.h"

#include <string.h>

#include <apr_strings.h>

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

int ta_regcmd_add_from_url(ta_cli_t *c, const char *base_url)
{
  if (strncmp(base_url, "https://", 8) != 0)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "the peer's identity must come over verified HTTPS: use https://, or --public-key with a key "
                       "file obtained out of band",
                       "--url '%s' is not an https:// URL", base_url);
  const char *base = strip_trailing_slashes(c->pool, base_url);
  const char *doc_url = apr_pstrcat(c->pool, base, TA_SERAPH_CERT_PATH, NULL);
  json_object_set_new(c->result, "source", json_string(doc_url));
  ta_http_req_t req = {0};
  req.url = doc_url;
  req.https_only = 1;
  ta_http_resp_t resp;
  int rc = ta_http_perform(c, &req, &resp);
  json_object_set_new(c->result, "tls_chain", ta_tls_chain_json(resp.tls));
  if (rc != TA_EXIT_OK) {
    ta_out_textf(c, "%s", ta_tls_chain_text(c->pool, resp.tls));
    return rc;
  }
  if (resp.status != 200)
    return ta_cli_fail(c, TA_EXIT_REFUSED, "no-certificate-document",
                       "check the base URL (the peer's external URL, as in Jira's 'Base URL' field) and that the "
                       "peer publishes its trusted-application certificate",
                       "%s answered %ld instead of a certificate document", doc_url, resp.status);
  if (resp.body_truncated)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_SERAPH_CERTDOC), NULL,
                       "%s: the document is larger than %d bytes", doc_url, TA_HTTP_MAX_BODY);
  ta_seraph_certdoc_t doc;
  const char *err = NULL;
  if (ta_seraph_certdoc_parse(c->pool, resp.body, resp.body_len, &doc, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_SERAPH_CERTDOC),
                       ta_error_fix(TA_E_SERAPH_CERTDOC), "%s: %s", doc_url,
                       err ? err : ta_error_summary(TA_E_SERAPH_CERTDOC));
  const char *want_id = ta_cli_opt(c, "id");
  if (want_id && strcmp(want_id, doc.app_id) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "id-mismatch",
                       "drop --id, or check that --url points at the intended peer",
                       "the peer calls itself '%s', not '%s'", doc.app_id, want_id);
  json_object_set_new(c->result, "document", json_string("seraph"));
  json_object_set_new(c->result, "document_version", json_integer(doc.version));
  /* A legacy peer signs with its RSA key in the Seraph protocol only. */
  push_default_opt(c, "name", base);
  push_default_opt(c, "protocols", "seraph");
  return ta_regcmd_add_app(c, doc.app_id, doc.public_pem, strlen(doc.public_pem), doc_url,
                           ta_cli_opt(c, "alg") ? ta_cli_opt(c, "alg") : "rsa-v1_5-sha256");
}

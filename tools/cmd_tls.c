/* tls-fetch: show and save the certificate chain a server presents, with
 * the verification verdict and, on failure, its root cause. */
#include "ta_cli.h"
#include "ta_http.h"

#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

/* HOST, HOST:PORT, [V6]:PORT or an https:// URL -> https URL. */
static const char *target_url(apr_pool_t *p, const char *target)
{
  if (strncmp(target, "https://", 8) == 0)
    return target;
  if (strstr(target, "://") || *target == '\0' || strpbrk(target, "/?#@ \t"))
    return NULL;
  if (target[0] == '[')
    return strchr(target, ']') ? apr_pstrcat(p, "https://", target, "/", NULL) : NULL;
  const char *colon = strchr(target, ':');
  if (colon && strchr(colon + 1, ':'))  /* bare IPv6 literal without port */
    return apr_pstrcat(p, "https://[", target, "]/", NULL);
  return apr_pstrcat(p, "https://", target, "/", NULL);
}

static int run_tls_fetch(ta_cli_t *c)
{
  const char *target = ta_cli_arg(c, 0);
  const char *url = target_url(c->pool, target);
  if (url == NULL)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "give HOST:PORT, [IPV6]:PORT or https://HOST:PORT",
                       "'%s' is not a host:port target", target);
  ta_http_req_t req = {0};
  req.url = url;
  req.connect_only = 1;
  req.https_only = 1;
  ta_http_resp_t resp;
  int rc = ta_http_perform(c, &req, &resp);
  json_object_set_new(c->result, "target", json_string(target));
  json_object_set_new(c->result, "verified", json_boolean(rc == TA_EXIT_OK));
  json_object_set_new(c->result, "chain", ta_tls_chain_json(resp.tls));
  json_object_set_new(c->result, "client_cert_requested", json_boolean(resp.tls->client_cert_requested));
  ta_out_textf(c, "%s", ta_tls_chain_text(c->pool, resp.tls));
  if (resp.tls->client_cert_requested)
    ta_out_textf(c, "the server asked for a client certificate and none was given (--cert/--cert-key)\n");
  const char *out = ta_cli_opt(c, "out");
  if (out && resp.tls->certs->nelts > 0) {
    const char *err;
    const char *pem = ta_tls_chain_pem(c->pool, resp.tls);
    if (ta_cli_write_file(c, out, pem, strlen(pem), 0644, 0, &err) != 0)
      return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed", NULL, "%s", err);
    json_object_set_new(c->result, "saved_to", json_string(out));
    ta_out_textf(c, "saved %d certificate(s) as PEM to %s\n", resp.tls->certs->nelts, out);
  }
  if (resp.tls->tls_version) {
    json_object_set_new(c->result, "tls_version", json_string(resp.tls->tls_version));
    json_object_set_new(c->result, "cipher", json_string(resp.tls->cipher));
    ta_out_textf(c, "negotiated: %s, %s\n", resp.tls->tls_version, resp.tls->cipher);
  }
  if (rc == TA_EXIT_OK)
    ta_out_textf(c, "verified: yes (chain and host name checked)\n");
  else if (out && resp.tls->certs->nelts == 0)
    ta_out_textf(c, "nothing saved to %s: no certificate was received\n", out);
  return rc;
}

static const ta_opt_spec_t tls_fetch_opts[] = {
  {"out", "FILE", 0, "save the presented chain as PEM (also when verification fails)"},
  {NULL, NULL, 0, NULL}
};

const ta_cmd_t ta_cmd_tls_fetch = {
  "tls-fetch", "HOST:PORT [--out FILE]",
  "Connect with TLS >= 1.2, show the presented chain (subject, issuer, dates, SHA-256), "
  "verify it, and name the root cause when it fails.",
  tls_fetch_opts, 1, 1, run_tls_fetch,
  "trustapp-admin tls-fetch jira.example.com:443 --out jira-chain.pem"
};

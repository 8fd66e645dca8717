/* request_rec -> ta_msg_t / ta_conn_t (the body check is ta_mod_body.c). */
#include "mod_trustedapp.h"

#include <string.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"
#include "util_filter.h"

#include "ta_digest.h"
#include "ta_forwarded.h"

/* s itself when it has no upper-case letter, else a lower-cased copy. */
static const char *lower_case(apr_pool_t *p, const char *s)
{
  const char *c;
  char *copy;
  for (c = s; *c && !apr_isupper(*c); c++)
    ;
  if (!*c)
    return s;
  copy = apr_pstrdup(p, s);
  ap_str_tolower(copy);
  return copy;
}

/* host[:port] lower case, the scheme's default port dropped. */
static const char *authority_of(request_rec *r, const char *scheme, const char *host)
{
  const char *a, *colon;
  apr_port_t dflt = strcmp(scheme, "https") ? 80 : 443;

  if (host && *host) {
    a = lower_case(r->pool, host);
  } else {
    /* HTTP/1.0 without Host: the name this server answers to. */
    apr_port_t port = ap_get_server_port(r);
    a = lower_case(r->pool, port == dflt ? ap_get_server_name(r)
                                         : apr_psprintf(r->pool, "%s:%u", ap_get_server_name(r),
                                                        (unsigned)port));
  }
  colon = strrchr(a, ':');
  /* Only a port ending in the default's last digit can be the default. */
  if (colon && !strchr(colon, ']') && a[strlen(a) - 1] == (dflt == 80 ? '0' : '3')) {
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] && !*end && port == (long)dflt)
      return apr_pstrmemdup(r->pool, a, (apr_size_t)(colon - a));
  }
  return a;
}

static void note_header(ta_mod_headers_t *seen, const char *name, const char *value)
{
  const char **slot = NULL;
  switch (name[0]) {
  case 'h': case 'H':
    slot = strcasecmp(name, "Host") ? NULL : &seen->host;
    break;
  case 'x': case 'X':
    slot = strcasecmp(name, "X-Forwarded-For") ? NULL : &seen->x_forwarded_for;
    break;
  case 'f': case 'F':
    slot = strcasecmp(name, "Forwarded") ? NULL : &seen->forwarded;
    break;
  case 't': case 'T':
    slot = strcasecmp(name, "Transfer-Encoding") ? NULL : &seen->transfer_encoding;
    break;
  case 'c': case 'C':
    slot = strcasecmp(name, "Content-Length") ? NULL : &seen->content_length;
    break;
  default:
    break;
  }
  if (slot && !*slot)
    *slot = value;
  seen->lookalikes += ta_mod_is_lookalike(name);
}

ta_msg_t *ta_mod_build_msg(request_rec *r, ta_mod_headers_t *seen)
{
  const apr_array_header_t *arr = apr_table_elts(r->headers_in);
  ta_msg_t *m = ta_msg_make_sized(r->pool, arr->nelts);
  const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
  const char *target = r->unparsed_uri ? r->unparsed_uri : "/";
  const char *q;
  int i;

  memset(seen, 0, sizeof(*seen));
  for (i = 0; i < arr->nelts; i++) {
    const char *value = e[i].val ? e[i].val : "";
    if (!e[i].key)
      continue;
    ta_msg_add_field(m, e[i].key, value);
    note_header(seen, e[i].key, value);
  }

  m->method = r->method;
  m->scheme = lower_case(r->pool, ap_http_scheme(r));
  m->authority = authority_of(r, m->scheme, seen->host);
  m->target = target;

  /* Absolute-form targets (forward proxies) carry scheme://authority. */
  if (target[0] != '/' && (!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8))) {
    const char *rest = strstr(target, "://") + 3;
    const char *slash = strpbrk(rest, "/?");
    target = slash ? slash : "/";
  }
  q = strchr(target, '?');
  if (q) {
    m->path = apr_pstrmemdup(r->pool, target, (apr_size_t)(q - target));
    m->query = apr_pstrdup(r->pool, q + 1);
  } else {
    m->path = target;
    m->query = NULL;
  }
  if (!*m->path)
    m->path = "/";
  return m;
}

/* ---------------------------------------------------------------- connection */
static int request_has_body(const ta_mod_headers_t *seen)
{
  const char *te = seen->transfer_encoding;
  const char *cl = seen->content_length;
  apr_off_t len = 0;
  if (te)
    return 1;
  if (cl && apr_strtoff(&len, cl, NULL, 10) == APR_SUCCESS && len > 0)
    return 1;
  return 0;
}

/* Lower-case hex SHA-256 of the DER form of a PEM certificate. */
static const char *cert_sha256_hex(apr_pool_t *p, const char *pem)
{
  const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
  const char *end;
  char *b64, *w;
  unsigned char *der, md[TA_DIGEST_MAX_LEN];
  size_t md_len = 0, i;
  int der_len;
  ta_digest_t *d = NULL;
  char *hex;

  if (!b)
    return NULL;
  b += sizeof("-----BEGIN CERTIFICATE-----") - 1;
  end = strstr(b, "-----END CERTIFICATE-----");
  if (!end)
    return NULL;
  b64 = apr_palloc(p, (apr_size_t)(end - b) + 1);
  for (w = b64; b < end; b++) {
    if (!apr_isspace(*b))
      *w++ = *b;
  }
  *w = '\0';
  der = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64));
  der_len = apr_base64_decode_binary(der, b64);
  if (der_len <= 0)
    return NULL;
  if (ta_digest_create(p, TA_DIGEST_SHA256, &d) != TA_OK
      || ta_digest_update(d, der, (size_t)der_len) != TA_OK
      || ta_digest_final(d, md, &md_len) != TA_OK)
    return NULL;
  hex = apr_palloc(p, md_len * 2 + 1);
  for (i = 0; i < md_len; i++)
    apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

ta_status_t ta_mod_build_conn(request_rec *r, const ta_dir_conf_t *dc, const ta_mod_headers_t *seen,
                              ta_conn_t *conn, const char **detail)
{
  const char *peer = r->connection->client_ip;
  int every_hop = ta_mod_flag(dc->every_hop, 0);
  int header = dc->proxy_header ? dc->proxy_header : TA_PROXY_HEADER_XFF;
  apr_array_header_t *chain = NULL;
  ta_status_t st;
  int connection_is_tls;

  memset(conn, 0, sizeof(*conn));
  conn->client_ip = peer;

  if (header == TA_PROXY_HEADER_REMOTEIP) {
    /* mod_remoteip already walked its own trusted proxies. */
    conn->client_ip = r->useragent_ip ? r->useragent_ip : peer;
    if (every_hop) {
      const char **hops = apr_palloc(r->pool, 2 * sizeof(*hops));
      size_t n = 0;
      hops[n++] = conn->client_ip;
      if (strcmp(conn->client_ip, peer))
        hops[n++] = peer;
      conn->hops = hops;
      conn->n_hops = n;
    }
  } else {
    const char *field = header == TA_PROXY_HEADER_FORWARDED ? "Forwarded" : "X-Forwarded-For";
    const char *value = header == TA_PROXY_HEADER_FORWARDED ? seen->forwarded : seen->x_forwarded_for;
    /* A claim is only parsed when someone may believe it: a trusted peer,
     * or every-hop mode, where extra hops can only restrict. */
    int believe = dc->trusted_proxies && ta_ip_set_match(dc->trusted_proxies, peer);
    if (value && (believe || every_hop)) {
      st = header == TA_PROXY_HEADER_FORWARDED ? ta_forwarded_parse(r->pool, value, &chain)
                                               : ta_xff_parse(r->pool, value, &chain);
      if (st != TA_OK) {
        *detail = apr_psprintf(r->pool, "malformed %s from %s", field, peer);
        return st;
      }
    }
    if (believe && chain)
      conn->client_ip = ta_proxy_walk(peer, chain, dc->trusted_proxies);
    if (every_hop) {
      int n = chain ? chain->nelts : 0, i;
      const char **hops = apr_palloc(r->pool, (apr_size_t)(n + 1) * sizeof(*hops));
      for (i = 0; i < n; i++)
        hops[i] = APR_ARRAY_IDX(chain, i, const char *);
      hops[n] = peer;
      conn->hops = hops;
      conn->n_hops = (size_t)n + 1;
    }
  }

  connection_is_tls = ap_ssl_conn_is_ssl(r->connection);
  conn->is_tls = ta_mod_tls_in_use(r, dc, connection_is_tls);
  if (connection_is_tls) {
    const char *verify = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_VERIFY");
    if (verify && !strcmp(verify, "SUCCESS")) {
      const char *pem = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_CERT");
      const char *subject = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_S_DN");
      const char *issuer = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_CLIENT_I_DN");
      if (pem && *pem)
        conn->client_cert_sha256 = cert_sha256_hex(r->pool, pem);
      /* mod_ssl formats DNs per RFC 2253 (unless LegacyDNStringFormat). */
      conn->client_cert_subject = (subject && *subject) ? subject : NULL;
      conn->client_cert_issuer = (issuer && *issuer) ? issuer : NULL;
    }
  }
  conn->has_body = request_has_body(seen);
  return TA_OK;
}

/* Whether the request reached us over TLS, for TrustedAppRequireTLS.
 *
 * Directly: mod_ssl's connection. Behind a TLS-terminating proxy the
 * connection is plain HTTP and only the proxy knows; its X-Forwarded-Proto
 * (or RFC 7239 Forwarded proto=) is believed only when TrustedAppForwardedProto
 * is on AND the immediate peer is a TrustedAppTrustedProxy -- anyone else can
 * send the header. Conservative: every proto value present must be "https"
 * (a chain with any plain-HTTP leg is not TLS), garbage is not TLS. */
#include "mod_trustedapp.h"

#include <string.h>
#include <apr_strings.h>
#include "apr_lib.h"
#include "http_ssl.h"

#define TA_PROTO_FIELD_MAX 4096

typedef struct {
  int forwarded;      /* RFC 7239 syntax rather than X-Forwarded-Proto */
  int https, other;   /* counts of proto values seen */
  size_t total;
} proto_scan_t;

static const char *skip_ows(const char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  return s;
}

static int is_tchar(char c)
{
  return apr_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void count_proto(proto_scan_t *ps, const char *v, size_t n)
{
  if (n == 5 && !strncasecmp(v, "https", 5))
    ps->https++;
  else
    ps->other++;   /* "http", or anything we do not understand */
}

/* X-Forwarded-Proto: "https" or a comma list of them. */
static void scan_xfp(proto_scan_t *ps, const char *s)
{
  for (;;) {
    const char *start = skip_ows(s), *end = start;
    while (is_tchar(*end))
      end++;
    if (end == start) {
      ps->other++;
      return;
    }
    count_proto(ps, start, (size_t)(end - start));
    s = skip_ows(end);
    if (!*s)
      return;
    if (*s != ',') {
      ps->other++;
      return;
    }
    s++;
  }
}

/* Forwarded: elements by ',', pairs by ';', token=token|quoted-string. */
static void scan_forwarded(proto_scan_t *ps, const char *s)
{
  for (;;) {
    const char *name, *name_end, *val, *val_end;
    s = skip_ows(s);
    name = s;
    while (is_tchar(*s))
      s++;
    name_end = s;
    if (name_end == name || *s != '=') {
      ps->other++;
      return;
    }
    s++;
    if (*s == '"') {
      val = ++s;
      while (*s && *s != '"') {
        if (*s == '\\' && s[1])
          s++;
        s++;
      }
      if (*s != '"') {
        ps->other++;
        return;
      }
      val_end = s++;
    } else {
      val = s;
      while (is_tchar(*s))
        s++;
      val_end = s;
      if (val_end == val) {
        ps->other++;
        return;
      }
    }
    if (name_end - name == 5 && !strncasecmp(name, "proto", 5))
      count_proto(ps, val, (size_t)(val_end - val));
    s = skip_ows(s);
    if (!*s)
      return;
    if (*s != ';' && *s != ',') {
      ps->other++;
      return;
    }
    s++;
  }
}

static int scan_field(void *rec, const char *key, const char *value)
{
  proto_scan_t *ps = rec;
  (void)key;
  ps->total += strlen(value);
  if (ps->total > TA_PROTO_FIELD_MAX) {
    ps->other++;
    return 0;
  }
  if (ps->forwarded)
    scan_forwarded(ps, value);
  else
    scan_xfp(ps, value);
  return 1;
}

int ta_mod_tls_in_use(request_rec *r, const ta_dir_conf_t *dc, int connection_is_tls)
{
  const char *peer = r->connection->client_ip;
  proto_scan_t ps;

  if (!ta_mod_flag(dc->forwarded_proto, 0) || !dc->trusted_proxies
      || !ta_ip_set_match(dc->trusted_proxies, peer))
    return connection_is_tls;

  memset(&ps, 0, sizeof ps);
  ps.forwarded = dc->proxy_header == TA_PROXY_HEADER_FORWARDED;
  apr_table_do(scan_field, &ps, r->headers_in, ps.forwarded ? "Forwarded" : "X-Forwarded-Proto",
               NULL);
  /* The trusted proxy speaks for the client's leg; no claim means none was TLS. */
  return ps.https > 0 && ps.other == 0;
}

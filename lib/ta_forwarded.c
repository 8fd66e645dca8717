#include "ta_forwarded.h"

#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

static int is_ows(char c)
{
  return c == ' ' || c == '\t';
}

static int is_tchar(unsigned char c)
{
  if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
    return 1;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int all_digits(const char *s, size_t n)
{
  if (n == 0 || n > 5)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* One node: "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]" or
 * "[2001:db8::1]:80". Returns the bare address copy, or NULL. */
static const char *parse_node(apr_pool_t *p, const char *s, size_t n, int allow_bare_v6)
{
  if (n == 0 || n >= TA_IP_MAX_TEXT + 8)
    return NULL;
  const char *addr = s;
  size_t addr_len = n;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL)
      return NULL;
    addr = s + 1;
    addr_len = (size_t)(close - addr);
    size_t rest = n - (size_t)(close - s) - 1;
    if (rest > 0 && (close[1] != ':' || !all_digits(close + 2, rest - 1)))
      return NULL;
    if (memchr(addr, ':', addr_len) == NULL)
      return NULL; /* brackets are for IPv6 only */
  } else {
    const char *colon = memchr(s, ':', n);
    if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL) {
      /* exactly one colon: IPv4 with a port */
      addr_len = (size_t)(colon - s);
      if (!all_digits(colon + 1, n - addr_len - 1))
        return NULL;
    } else if (colon && !allow_bare_v6) {
      return NULL;
    }
  }
  char *copy = apr_pstrmemdup(p, addr, addr_len);
  return ta_ip_is_valid(copy) ? copy : NULL;
}

static ta_status_t push_hop(apr_array_header_t *ips, const char *ip)
{
  if (ip == NULL || ips->nelts >= TA_FORWARDED_MAX_HOPS)
    return TA_E_PROXY_CHAIN;
  *(const char **)apr_array_push(ips) = ip;
  return TA_OK;
}

ta_status_t ta_xff_parse(apr_pool_t *p, const char *value, apr_array_header_t **ips)
{
  if (value == NULL || strnlen(value, TA_FORWARDED_MAX_INPUT + 1) > TA_FORWARDED_MAX_INPUT)
    return TA_E_PROXY_CHAIN;
  apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
  const char *s = value;
  for (;;) {
    while (is_ows(*s))
      s++;
    const char *end = s;
    while (*end && *end != ',')
      end++;
    const char *last = end;
    while (last > s && is_ows(last[-1]))
      last--;
    ta_status_t rv = push_hop(out, parse_node(p, s, (size_t)(last - s), 1));
    if (rv != TA_OK)
      return rv;
    if (*end == '\0')
      break;
    s = end + 1;
  }
  *ips = out;
  return TA_OK;
}

/* RFC 7239 value: token or quoted-string. Reads it into a pool copy and
 * advances *sp. Quoted pairs are unescaped. */
static const char *parse_fwd_value(apr_pool_t *p, const char **sp)
{
  const char *s = *sp;
  if (*s == '"') {
    char *buf = apr_palloc(p, strlen(s) + 1);
    size_t n = 0;
    s++;
    for (;;) {
      unsigned char c = (unsigned char)*s;
      if (c == '\0')
        return NULL;
      if (c == '"')
        break;
      if (c == '\\') {
        s++;
        c = (unsigned char)*s;
        if (c == '\0' || c < 0x20 || c == 0x7f)
          return NULL;
      } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return NULL;
      }
      buf[n++] = (char)c;
      s++;
    }
    buf[n] = '\0';
    *sp = s + 1;
    return buf;
  }
  const char *start = s;
  while (is_tchar((unsigned char)*s))
    s++;
  if (s == start)
    return NULL;
  *sp = s;
  return apr_pstrmemdup(p, start, (size_t)(s - start));
}

ta_status_t ta_forwarded_parse(apr_pool_t *p, const char *value, apr_array_header_t **ips)
{
  if (value == NULL || strnlen(value, TA_FORWARDED_MAX_INPUT + 1) > TA_FORWARDED_MAX_INPUT)
    return TA_E_PROXY_CHAIN;
  apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
  const char *s = value;
  for (;;) {
    /* one forwarded-element: pair *( ";" pair ) */
    const char *for_value = NULL;
    int seen_by = 0, seen_host = 0, seen_proto = 0;
    for (;;) {
      while (is_ows(*s))
        s++;
      const char *name = s;
      while (is_tchar((unsigned char)*s))
        s++;
      size_t name_len = (size_t)(s - name);
      if (name_len == 0 || *s != '=')
        return TA_E_PROXY_CHAIN;
      s++;
      const char *v = parse_fwd_value(p, &s);
      if (v == NULL)
        return TA_E_PROXY_CHAIN;
      int *seen = NULL;
      if (name_len == 3 && apr_cstr_casecmpn(name, "for", 3) == 0) {
        if (for_value)
          return TA_E_PROXY_CHAIN;
        for_value = v;
      } else if (name_len == 2 && apr_cstr_casecmpn(name, "by", 2) == 0) {
        seen = &seen_by;
      } else if (name_len == 4 && apr_cstr_casecmpn(name, "host", 4) == 0) {
        seen = &seen_host;
      } else if (name_len == 5 && apr_cstr_casecmpn(name, "proto", 5) == 0) {
        seen = &seen_proto;
      }
      if (seen) {
        if (*seen)
          return TA_E_PROXY_CHAIN; /* RFC 7239 4: a parameter occurs once per element */
        *seen = 1;
      }
      while (is_ows(*s))
        s++;
      if (*s == ';') {
        s++;
        continue;
      }
      break;
    }
    /* "unknown" and obfuscated nodes cannot be matched against policy. */
    if (for_value == NULL)
      return TA_E_PROXY_CHAIN;
    ta_status_t rv = push_hop(out, parse_node(p, for_value, strlen(for_value), 0));
    if (rv != TA_OK)
      return rv;
    if (*s == '\0')
      break;
    if (*s != ',')
      return TA_E_PROXY_CHAIN;
    s++;
  }
  *ips = out;
  return TA_OK;
}

const char *ta_proxy_walk(const char *peer, const apr_array_header_t *chain,
                          const ta_ip_set_t *trusted)
{
  const char *current = peer;
  if (chain == NULL)
    return current;
  const char *const *hops = (const char *const *)chain->elts;
  for (int i = chain->nelts - 1; i >= 0 && ta_ip_set_match(trusted, current); i--)
    current = hops[i];
  return current;
}

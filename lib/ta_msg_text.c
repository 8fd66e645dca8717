#include "ta_msg_text.h"

#include <string.h>
#include <apr_strings.h>

static int is_tchar(unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value octets (RFC 9110 5.5): VCHAR, SP, HTAB, obs-text. */
static int is_field_vchar(unsigned char c)
{
  return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static int is_ows(char c)
{
  return c == ' ' || c == '\t';
}

/* Visible ASCII for a request-target. */
static int is_target_char(unsigned char c)
{
  return c >= 0x21 && c <= 0x7e && c != '#';
}

static int default_port(const char *scheme)
{
  if (scheme && strcmp(scheme, "http") == 0)
    return 80;
  if (scheme && strcmp(scheme, "https") == 0)
    return 443;
  return -1;
}

const char *ta_msg_normalize_authority(apr_pool_t *p, const char *scheme,
                                       const char *authority)
{
  if (!authority || !*authority)
    return NULL;
  size_t len = strlen(authority);
  if (len > 1024)
    return NULL;
  char *a = apr_pstrdup(p, authority);
  for (char *c = a; *c; c++)
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');

  char *port = NULL;
  char *host_end;
  if (a[0] == '[') {
    host_end = strchr(a, ']');
    if (!host_end || host_end == a + 1)
      return NULL;
    for (const char *c = a + 1; c < host_end; c++)
      if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == ':' || *c == '.'))
        return NULL;
    host_end++;
    if (*host_end == ':')
      port = host_end + 1;
    else if (*host_end)
      return NULL;
  }
  else {
    host_end = strchr(a, ':');
    if (host_end)
      port = host_end + 1;
    else
      host_end = a + len;
    if (host_end == a)
      return NULL;
    for (const char *c = a; c < host_end; c++)
      if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || strchr("-._~!$&'()*+,;=%", *c)))
        return NULL;
  }
  if (port) {
    size_t n = strlen(port);
    if (n > 5)
      return NULL;
    long v = 0;
    for (const char *c = port; *c; c++) {
      if (*c < '0' || *c > '9')
        return NULL;
      v = v * 10 + (*c - '0');
    }
    if (v > 65535)
      return NULL;
    /* An empty port or the scheme's default port is dropped (RFC 3986 6.2.3). */
    if (n == 0 || v == default_port(scheme))
      *host_end = '\0';
  }
  return a;
}

/* Splits "path?query" (query NULL when there is no '?'). */
static ta_status_t set_origin_target(apr_pool_t *p, ta_msg_t *m, const char *t)
{
  const char *q = strchr(t, '?');
  if (q) {
    m->path = apr_pstrmemdup(p, t, (apr_size_t)(q - t));
    m->query = apr_pstrdup(p, q + 1);
  }
  else {
    m->path = apr_pstrdup(p, t);
    m->query = NULL;
  }
  if (!*m->path)
    m->path = "/";
  return TA_OK;
}

static ta_status_t parse_request_line(apr_pool_t *p, ta_msg_t *m, const char *line,
                                      const char **target_authority)
{
  const char *sp1 = strchr(line, ' ');
  if (!sp1 || sp1 == line)
    return TA_E_MSG_INVALID;
  for (const char *c = line; c < sp1; c++)
    if (!is_tchar((unsigned char)*c))
      return TA_E_MSG_INVALID;
  const char *target = sp1 + 1;
  const char *sp2 = strchr(target, ' ');
  if (!sp2 || sp2 == target)
    return TA_E_MSG_INVALID;
  const char *version = sp2 + 1;
  if (strlen(version) != 8 || strncmp(version, "HTTP/", 5) != 0
      || version[5] < '0' || version[5] > '9' || version[6] != '.'
      || version[7] < '0' || version[7] > '9')
    return TA_E_MSG_INVALID;
  for (const char *c = target; c < sp2; c++)
    if (!is_target_char((unsigned char)*c))
      return TA_E_MSG_INVALID;

  m->method = apr_pstrmemdup(p, line, (apr_size_t)(sp1 - line));
  char *t = apr_pstrmemdup(p, target, (apr_size_t)(sp2 - target));
  m->target = apr_pstrdup(p, t);   /* before the scheme is lower-cased in place below */
  if (t[0] == '/')
    return set_origin_target(p, m, t);
  if (strcmp(t, "*") == 0) {
    m->path = "*";
    m->query = NULL;
    return TA_OK;
  }
  /* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
  char *colon = strstr(t, "://");
  if (!colon || colon == t)
    return TA_E_MSG_INVALID; /* authority-form (CONNECT) has no ta_msg_t form */
  for (char *c = t; c < colon; c++) {
    if (*c >= 'A' && *c <= 'Z')
      *c = (char)(*c - 'A' + 'a');
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))
      return TA_E_MSG_INVALID;
  }
  m->scheme = apr_pstrmemdup(p, t, (apr_size_t)(colon - t));
  char *auth = colon + 3;
  size_t alen = strcspn(auth, "/?");
  if (alen == 0 || memchr(auth, '@', alen))
    return TA_E_MSG_INVALID;
  *target_authority = apr_pstrmemdup(p, auth, (apr_size_t)alen);
  return set_origin_target(p, m, auth + alen);
}

static ta_status_t parse_status_line(ta_msg_t *m, const char *line)
{
  /* HTTP/d.d SP 3DIGIT SP reason-phrase */
  if (strlen(line) < 12 || line[5] < '0' || line[5] > '9' || line[6] != '.'
      || line[7] < '0' || line[7] > '9' || line[8] != ' ')
    return TA_E_MSG_INVALID;
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (line[i] < '0' || line[i] > '9')
      return TA_E_MSG_INVALID;
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || (line[12] != ' ' && line[12] != '\0'))
    return TA_E_MSG_INVALID;
  for (const char *c = line + 12; *c; c++)
    if (!is_field_vchar((unsigned char)*c))
      return TA_E_MSG_INVALID;
  m->is_response = 1;
  m->status = status;
  return TA_OK;
}

static ta_status_t parse_field_line(apr_pool_t *p, ta_msg_t *m, const char *line, size_t len)
{
  if (len == 0 || is_ows(line[0]))
    return TA_E_MSG_INVALID; /* obs-fold (RFC 9112 5.2) */
  size_t n = 0;
  while (n < len && line[n] != ':') {
    if (!is_tchar((unsigned char)line[n]))
      return TA_E_MSG_INVALID; /* includes whitespace before the colon */
    n++;
  }
  if (n == 0 || n == len)
    return TA_E_MSG_INVALID;
  size_t v = n + 1, e = len;
  while (v < e && is_ows(line[v]))
    v++;
  while (e > v && is_ows(line[e - 1]))
    e--;
  for (size_t i = v; i < e; i++)
    if (!is_field_vchar((unsigned char)line[i]))
      return TA_E_MSG_INVALID;
  ta_msg_add_field(m, apr_pstrmemdup(p, line, n), apr_pstrmemdup(p, line + v, e - v));
  return TA_OK;
}

ta_status_t ta_msg_parse_text(apr_pool_t *p, const char *text, size_t len,
                              const char *scheme, ta_msg_t **out,
                              const char **body, size_t *body_len)
{
  if (!text || !out || (scheme && default_port(scheme) < 0))
    return TA_E_MSG_INVALID;
  ta_msg_t *m = ta_msg_make(p);
  m->scheme = scheme ? scheme : "https";
  const char *target_authority = NULL;
  size_t pos = 0;
  int line_no = 0, n_fields = 0;

  while (pos < len) {
    /* The last line of a head that ends at the end of the text may lack its LF. */
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t line_len = end - pos;
    if (line_len > 0 && text[end - 1] == '\r')
      line_len--;
    if (end + 1 > TA_MSG_TEXT_MAX_HEAD || line_len > TA_MSG_TEXT_MAX_LINE)
      return TA_E_TOO_LARGE;
    const char *line = text + pos;
    if (memchr(line, '\r', line_len) || memchr(line, '\0', line_len))
      return TA_E_MSG_INVALID;
    pos = end + 1;
    if (line_len == 0) {
      if (line_no == 0)
        return TA_E_MSG_INVALID;
      break;
    }
    ta_status_t st;
    if (line_no == 0) {
      char *start = apr_pstrmemdup(p, line, line_len);
      st = strncmp(start, "HTTP/", 5) == 0 ? parse_status_line(m, start)
                                           : parse_request_line(p, m, start, &target_authority);
    }
    else {
      if (++n_fields > TA_MSG_TEXT_MAX_FIELDS)
        return TA_E_TOO_LARGE;
      st = parse_field_line(p, m, line, line_len);
    }
    if (st != TA_OK)
      return st;
    line_no++;
  }
  if (line_no == 0)
    return TA_E_MSG_INVALID;
  if (pos > len)
    pos = len;

  if (!m->is_response) {
    int hosts = ta_msg_field_count(m, "Host");
    const char *host = hosts == 1 ? ta_msg_field(p, m, "Host") : NULL;
    if (hosts > 1)
      return TA_E_MSG_INVALID;
    const char *authority = target_authority ? target_authority : host;
    if (!authority)
      return TA_E_MSG_INVALID;
    m->authority = ta_msg_normalize_authority(p, m->scheme, authority);
    if (!m->authority)
      return TA_E_MSG_INVALID;
  }
  else {
    m->scheme = NULL;
  }
  if (body)
    *body = text + pos;
  if (body_len)
    *body_len = len - pos;
  *out = m;
  return TA_OK;
}

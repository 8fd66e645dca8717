#include "ta_sigbase.h"

#include <string.h>
#include <apr_cstr.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ta_b64.h"

static const char *const derived_names[] = {
  "@method", "@target-uri", "@authority", "@scheme", "@request-target",
  "@path", "@query", "@query-param", "@status",
};

typedef enum { SF_ITEM, SF_LIST, SF_DICT } sf_kind_t;

/* Fields whose structured type is known (IANA "HTTP Field Name" registry
 * entries with a structured type), so ;sf can re-serialize them. */
static const struct {
  const char *name;
  sf_kind_t kind;
} sf_fields[] = {
  {"accept-signature", SF_DICT},   {"signature", SF_DICT},
  {"signature-input", SF_DICT},    {"content-digest", SF_DICT},
  {"repr-digest", SF_DICT},        {"want-content-digest", SF_DICT},
  {"want-repr-digest", SF_DICT},   {"priority", SF_DICT},
  {"cdn-cache-control", SF_DICT},  {"cache-status", SF_LIST},
  {"proxy-status", SF_LIST},       {"client-cert", SF_ITEM},
  {"client-cert-chain", SF_LIST},
  /* RFC 9421 2.1.1's example field, so the RFC's own examples can be checked. */
  {"example-dict", SF_DICT},
};

static int is_derived_name(const char *name)
{
  for (size_t i = 0; i < sizeof(derived_names) / sizeof(derived_names[0]); i++)
    if (strcmp(name, derived_names[i]) == 0)
      return 1;
  return 0;
}

/* Lower-case tchar only: identifiers name fields in lower case (RFC 9421 2.1). */
static int is_lower_field_name(const char *s, size_t len)
{
  if (len == 0)
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      continue;
    if (!c || !strchr("!#$%&'*+-.^_`|~", c))
      return 0;
  }
  return 1;
}

static int is_true_flag(const ta_sf_bare_t *b)
{
  return b->type == TA_SF_BOOLEAN && b->v.boolean == 1;
}

ta_status_t ta_component_from_item(apr_pool_t *p, const ta_sf_item_t *item,
                                   ta_component_t *out)
{
  memset(out, 0, sizeof(*out));
  if (item->bare.type != TA_SF_STRING || item->bare.v.str.len == 0
      || memchr(item->bare.v.str.ptr, '\0', item->bare.v.str.len))
    return TA_E_COMPONENT_INVALID;
  const char *name = apr_pstrmemdup(p, item->bare.v.str.ptr, item->bare.v.str.len);
  out->name = name;
  out->is_derived = name[0] == '@';
  if (out->is_derived ? !is_derived_name(name) : !is_lower_field_name(name, strlen(name)))
    return TA_E_COMPONENT_INVALID;

  for (size_t i = 0; i < item->params.n; i++) {
    const char *k = item->params.items[i].key;
    const ta_sf_bare_t *v = &item->params.items[i].value;
    if (strcmp(k, "req") == 0 && is_true_flag(v))
      out->flags |= TA_COMP_REQ;
    else if (!out->is_derived && strcmp(k, "sf") == 0 && is_true_flag(v))
      out->flags |= TA_COMP_SF;
    else if (!out->is_derived && strcmp(k, "bs") == 0 && is_true_flag(v))
      out->flags |= TA_COMP_BS;
    else if (!out->is_derived && strcmp(k, "key") == 0 && v->type == TA_SF_STRING)
      out->key = apr_pstrmemdup(p, v->v.str.ptr, v->v.str.len);
    else if (strcmp(name, "@query-param") == 0 && strcmp(k, "name") == 0 && v->type == TA_SF_STRING)
      out->qname = apr_pstrmemdup(p, v->v.str.ptr, v->v.str.len);
    else
      return TA_E_COMPONENT_INVALID; /* unknown (incl. ;tr), wrong type, or wrong component */
  }
  /* bs re-encodes raw lines: it cannot be combined with structured handling. */
  if ((out->flags & TA_COMP_BS) && ((out->flags & TA_COMP_SF) || out->key))
    return TA_E_COMPONENT_INVALID;
  if (strcmp(name, "@query-param") == 0 && !out->qname)
    return TA_E_COMPONENT_INVALID;

  out->item = *item;
  out->id = ta_sf_serialize_item(p, item);
  if (!out->id)
    return TA_E_COMPONENT_INVALID;
  return TA_OK;
}

ta_status_t ta_component_parse(apr_pool_t *p, const char *text,
                               ta_component_t *out)
{
  if (!text)
    return TA_E_COMPONENT_INVALID;
  while (*text == ' ')
    text++;
  size_t len = strlen(text);
  while (len > 0 && text[len - 1] == ' ')
    len--;
  if (len == 0 || len > TA_SIG_MAX_FIELD)
    return TA_E_COMPONENT_INVALID;
  const char *sf_text;
  if (text[0] == '"') {
    sf_text = apr_pstrmemdup(p, text, len);
  }
  else {
    /* bare form: name[;params] -> "name"[;params] */
    size_t name_len = strcspn(text, ";");
    if (name_len > len)
      name_len = len;
    for (size_t i = 0; i < name_len; i++)
      if (text[i] == '"' || text[i] == '\\' || text[i] == ' ')
        return TA_E_COMPONENT_INVALID;
    sf_text = apr_psprintf(p, "\"%.*s\"%.*s", (int)name_len, text,
                           (int)(len - name_len), text + name_len);
  }
  ta_sf_item_t item;
  if (ta_sf_parse_item(p, sf_text, strlen(sf_text), &item) != TA_OK)
    return TA_E_COMPONENT_INVALID;
  return ta_component_from_item(p, &item, out);
}

static int str_eq_nullable(const char *a, const char *b)
{
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

int ta_component_equal(const ta_component_t *a, const ta_component_t *b)
{
  return str_eq_nullable(a->name, b->name) && a->flags == b->flags
         && str_eq_nullable(a->key, b->key) && str_eq_nullable(a->qname, b->qname);
}

/* A value goes on one line of the base: no CR, LF or other controls. */
static int is_safe_value(const char *v)
{
  for (const unsigned char *c = (const unsigned char *)v; *c; c++)
    if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
      return 0;
  return 1;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* application/x-www-form-urlencoded parsing of one name or value (WHATWG
 * URL): '+' is a space, %XX is decoded, a malformed escape stays literal. */
static char *form_decode(apr_pool_t *p, const char *s, size_t len, size_t *out_len)
{
  char *d = apr_palloc(p, len + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '+') {
      d[n++] = ' ';
    }
    else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      d[n++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    }
    else {
      d[n++] = s[i];
    }
  }
  d[n] = '\0';
  *out_len = n;
  return d;
}

/* Re-encoding per RFC 9421 2.2.8: the WHATWG urlencoded serializer's
 * percent-encode set, but a space becomes %20 rather than '+'. */
static char *form_encode(apr_pool_t *p, const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  char *e = apr_palloc(p, len * 3 + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '*' || c == '-' || c == '.' || c == '_') {
      e[n++] = (char)c;
    }
    else {
      e[n++] = '%';
      e[n++] = hex[c >> 4];
      e[n++] = hex[c & 15];
    }
  }
  e[n] = '\0';
  return e;
}

static ta_status_t query_param_values(apr_pool_t *p, const char *query, const char *qname,
                                      apr_array_header_t *values)
{
  if (!query)
    return TA_E_COMPONENT_MISSING;
  const char *s = query;
  while (*s) {
    size_t seg = strcspn(s, "&");
    if (seg > 0) {
      const char *eq = memchr(s, '=', seg);
      size_t name_len = eq ? (size_t)(eq - s) : seg;
      size_t dn, dv;
      char *dname = form_decode(p, s, name_len, &dn);
      if (strcmp(form_encode(p, dname, dn), qname) == 0) {
        const char *v = eq ? eq + 1 : s + seg;
        char *dval = form_decode(p, v, (size_t)(s + seg - v), &dv);
        *(const char **)apr_array_push(values) = form_encode(p, dval, dv);
      }
    }
    s += seg;
    if (*s == '&')
      s++;
  }
  return values->nelts ? TA_OK : TA_E_COMPONENT_MISSING;
}

/* Scheme and host are case-insensitive (RFC 3986 6.2.2.1): signed in lower case. */
static const char *lower_dup(apr_pool_t *p, const char *s)
{
  if (!s)
    return NULL;
  char *d = apr_pstrdup(p, s);
  for (char *x = d; *x; x++)
    if (*x >= 'A' && *x <= 'Z')
      *x = (char)(*x - 'A' + 'a');
  return d;
}

static ta_status_t derived_value(apr_pool_t *p, const ta_msg_t *msg, const ta_msg_t *target,
                                 const ta_component_t *c, apr_array_header_t *values)
{
  const char *v = NULL;
  const char *name = c->name;
  if (strcmp(name, "@status") == 0) {
    /* only a response's own status */
    if (!target->is_response || target != msg)
      return TA_E_COMPONENT_INVALID;
    if (target->status < 100 || target->status > 999)
      return TA_E_COMPONENT_MISSING;
    v = apr_psprintf(p, "%03d", target->status);
  }
  else {
    if (target->is_response)
      return TA_E_COMPONENT_INVALID; /* request components of a response need ;req */
    const char *path = target->path && *target->path ? target->path : "/";
    if (strcmp(name, "@method") == 0) {
      v = target->method;
    }
    else if (strcmp(name, "@scheme") == 0) {
      v = lower_dup(p, target->scheme);
    }
    else if (strcmp(name, "@authority") == 0) {
      v = lower_dup(p, target->authority);
    }
    else if (strcmp(name, "@path") == 0) {
      v = path;
    }
    else if (strcmp(name, "@query") == 0) {
      v = apr_pstrcat(p, "?", target->query ? target->query : "", NULL);
    }
    else if (strcmp(name, "@request-target") == 0) {
      if (target->target)
        v = target->target;
      else
        v = target->query ? apr_pstrcat(p, path, "?", target->query, NULL) : path;
    }
    else if (strcmp(name, "@target-uri") == 0) {
      if (!target->scheme || !target->authority)
        return TA_E_COMPONENT_MISSING;
      v = apr_pstrcat(p, lower_dup(p, target->scheme), "://", lower_dup(p, target->authority),
                      strcmp(path, "*") == 0 ? "" : path,
                      target->query ? "?" : "", target->query ? target->query : "", NULL);
    }
    else if (strcmp(name, "@query-param") == 0) {
      return query_param_values(p, target->query, c->qname, values);
    }
    else {
      return TA_E_COMPONENT_INVALID;
    }
  }
  if (!v)
    return TA_E_COMPONENT_MISSING;
  *(const char **)apr_array_push(values) = v;
  return TA_OK;
}

static ta_status_t structured_value(apr_pool_t *p, const char *raw, const ta_component_t *c,
                                    const char **out)
{
  size_t len = strlen(raw);
  if (c->key) {
    ta_sf_dict_t d;
    if (ta_sf_parse_dict(p, raw, len, &d) != TA_OK)
      return TA_E_COMPONENT_INVALID;
    const ta_sf_member_t *m = ta_sf_dict_get(&d, c->key);
    if (!m)
      return TA_E_COMPONENT_MISSING;
    *out = ta_sf_serialize_member(p, m);
    return *out ? TA_OK : TA_E_COMPONENT_INVALID;
  }
  size_t i, n = sizeof(sf_fields) / sizeof(sf_fields[0]);
  for (i = 0; i < n; i++)
    if (strcmp(sf_fields[i].name, c->name) == 0)
      break;
  if (i == n)
    return TA_E_COMPONENT_INVALID; /* ;sf on a field of unknown structure */
  switch (sf_fields[i].kind) {
  case SF_DICT: {
    ta_sf_dict_t d;
    if (ta_sf_parse_dict(p, raw, len, &d) != TA_OK)
      return TA_E_COMPONENT_INVALID;
    *out = ta_sf_serialize_dict(p, &d);
    break;
  }
  case SF_LIST: {
    ta_sf_list_t l;
    if (ta_sf_parse_list(p, raw, len, &l) != TA_OK)
      return TA_E_COMPONENT_INVALID;
    *out = ta_sf_serialize_list(p, &l);
    break;
  }
  case SF_ITEM:
  default: {
    ta_sf_item_t it;
    if (ta_sf_parse_item(p, raw, len, &it) != TA_OK)
      return TA_E_COMPONENT_INVALID;
    *out = ta_sf_serialize_item(p, &it);
    break;
  }
  }
  return *out ? TA_OK : TA_E_COMPONENT_INVALID;
}

static ta_status_t field_value(apr_pool_t *p, const ta_msg_t *target,
                               const ta_component_t *c, apr_array_header_t *values)
{
  if (ta_msg_field_count(target, c->name) == 0)
    return TA_E_COMPONENT_MISSING;
  const char *v;
  if (c->flags & TA_COMP_BS) {
    /* each field line's value as a byte sequence, joined like field lines */
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(const char *));
    const ta_field_t *f = (const ta_field_t *)target->fields->elts;
    for (int i = 0; i < target->fields->nelts; i++) {
      if (apr_cstr_casecmp(f[i].name, c->name) != 0)
        continue;
      char *b64 = ta_b64_encode(p, TA_B64_STD, (const unsigned char *)f[i].value, strlen(f[i].value));
      if (!b64)
        return TA_E_TOO_LARGE;
      if (parts->nelts)
        *(const char **)apr_array_push(parts) = ", ";
      *(const char **)apr_array_push(parts) = apr_pstrcat(p, ":", b64, ":", NULL);
    }
    v = apr_array_pstrcat(p, parts, 0);
  }
  else {
    v = ta_msg_field(p, target, c->name);
    if (c->key || (c->flags & TA_COMP_SF)) {
      ta_status_t st = structured_value(p, v, c, &v);
      if (st != TA_OK)
        return st;
    }
  }
  *(const char **)apr_array_push(values) = v;
  return TA_OK;
}

ta_status_t ta_component_values(apr_pool_t *p, const ta_msg_t *msg,
                                const ta_component_t *c,
                                const char ***values, size_t *n_values)
{
  const ta_msg_t *target = msg;
  if (c->flags & TA_COMP_REQ) {
    if (!msg->is_response)
      return TA_E_COMPONENT_INVALID; /* ;req only makes sense on a response */
    if (!msg->request)
      return TA_E_COMPONENT_MISSING;
    target = msg->request;
  }
  apr_array_header_t *arr = apr_array_make(p, 1, sizeof(const char *));
  ta_status_t st = c->is_derived ? derived_value(p, msg, target, c, arr)
                                 : field_value(p, target, c, arr);
  if (st != TA_OK)
    return st;
  const char **v = (const char **)arr->elts;
  for (int i = 0; i < arr->nelts; i++)
    if (!is_safe_value(v[i]))
      return TA_E_COMPONENT_INVALID;
  *values = v;
  *n_values = (size_t)arr->nelts;
  return TA_OK;
}

ta_status_t ta_sigbase_build(apr_pool_t *p, const ta_msg_t *msg,
                             const ta_component_t *components, size_t n,
                             const char *signature_params,
                             char **base, size_t *len)
{
  if (n > TA_SIG_MAX_COMPONENTS)
    return TA_E_TOO_LARGE;
  if (!signature_params || !is_safe_value(signature_params))
    return TA_E_COMPONENT_INVALID;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (ta_component_equal(&components[i], &components[j]))
        return TA_E_COMPONENT_DUP;

  apr_array_header_t *parts = apr_array_make(p, (int)(4 * n + 2), sizeof(const char *));
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const char **values;
    size_t nv;
    ta_status_t st = ta_component_values(p, msg, &components[i], &values, &nv);
    if (st != TA_OK)
      return st;
    for (size_t k = 0; k < nv; k++) {
      total += strlen(components[i].id) + strlen(values[k]) + 3;
      if (total > TA_SIG_MAX_BASE)
        return TA_E_TOO_LARGE;
      *(const char **)apr_array_push(parts) = components[i].id;
      *(const char **)apr_array_push(parts) = ": ";
      *(const char **)apr_array_push(parts) = values[k];
      *(const char **)apr_array_push(parts) = "\n";
    }
  }
  total += strlen(signature_params) + 21;
  if (total > TA_SIG_MAX_BASE)
    return TA_E_TOO_LARGE;
  *(const char **)apr_array_push(parts) = "\"@signature-params\": ";
  *(const char **)apr_array_push(parts) = signature_params;
  *base = apr_array_pstrcat(p, parts, 0);
  *len = strlen(*base);
  return TA_OK;
}

char *ta_sigbase_params_value(apr_pool_t *p, const ta_component_t *components,
                              size_t n, const ta_sf_params_t *params)
{
  ta_sf_member_t m;
  memset(&m, 0, sizeof(m));
  m.is_inner_list = 1;
  m.n_inner = n;
  m.inner = apr_pcalloc(p, (n ? n : 1) * sizeof(ta_sf_item_t));
  for (size_t i = 0; i < n; i++)
    m.inner[i] = components[i].item;
  if (params)
    m.params = *params;
  return ta_sf_serialize_member(p, &m);
}

#include "ta_sigbase.h"

#include <stdint.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ta_b64.h"

/* Component kinds (ta_component_t.kind); 0 = not resolved yet. */
enum {
  KIND_UNRESOLVED = 0, KIND_FIELD, KIND_METHOD, KIND_TARGET_URI, KIND_AUTHORITY, KIND_SCHEME,
  KIND_REQUEST_TARGET, KIND_PATH, KIND_QUERY, KIND_QUERY_PARAM, KIND_STATUS
};

static const struct {
  const char *name;
  size_t len;
  unsigned kind;
} derived_names[] = {
  {"@method", 7, KIND_METHOD},         {"@target-uri", 11, KIND_TARGET_URI},
  {"@authority", 10, KIND_AUTHORITY},  {"@scheme", 7, KIND_SCHEME},
  {"@request-target", 15, KIND_REQUEST_TARGET}, {"@path", 5, KIND_PATH},
  {"@query", 6, KIND_QUERY},           {"@query-param", 12, KIND_QUERY_PARAM},
  {"@status", 7, KIND_STATUS},
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

/* Index into derived_names, or -1: the length rejects most names at once. */
static int derived_index(const char *name, size_t len)
{
  for (size_t i = 0; i < sizeof(derived_names) / sizeof(derived_names[0]); i++)
    if (derived_names[i].len == len && memcmp(name, derived_names[i].name, len) == 0)
      return (int)i;
  return -1;
}

/* Lower-case tchar only: identifiers name fields in lower case (RFC 9421 2.1). */
#define L(c) [(unsigned char)(c)] = 1
static const unsigned char lower_tchar[256] = {
  L('a'), L('b'), L('c'), L('d'), L('e'), L('f'), L('g'), L('h'), L('i'), L('j'), L('k'),
  L('l'), L('m'), L('n'), L('o'), L('p'), L('q'), L('r'), L('s'), L('t'), L('u'), L('v'),
  L('w'), L('x'), L('y'), L('z'), L('0'), L('1'), L('2'), L('3'), L('4'), L('5'), L('6'),
  L('7'), L('8'), L('9'), L('!'), L('#'), L('$'), L('%'), L('&'), L('\''), L('*'), L('+'),
  L('-'), L('.'), L('^'), L('_'), L('`'), L('|'), L('~')
};
#undef L

static int is_lower_field_name(const char *s, size_t len)
{
  if (len == 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!lower_tchar[(unsigned char)s[i]])
      return 0;
  return 1;
}

/* The kind of a component filled in by hand (kind 0), from its name. */
static unsigned component_kind(const ta_component_t *c)
{
  if (c->kind != KIND_UNRESOLVED)
    return c->kind;
  if (!c->is_derived)
    return KIND_FIELD;
  int i = derived_index(c->name, strlen(c->name));
  return i < 0 ? KIND_UNRESOLVED : derived_names[i].kind;
}

static int is_true_flag(const ta_sf_bare_t *b)
{
  return b->type == TA_SF_BOOLEAN && b->v.boolean == 1;
}

ta_status_t ta_component_from_item(apr_pool_t *p, const ta_sf_item_t *item,
                                   ta_component_t *out)
{
  memset(out, 0, sizeof(*out));
  if (item->bare.type != TA_SF_STRING || item->bare.v.str.len == 0)
    return TA_E_COMPONENT_INVALID;
  /* a NUL inside the string is refused by both checks below */
  const char *str = item->bare.v.str.ptr;
  size_t len = item->bare.v.str.len;
  const char *name = NULL;
  out->is_derived = str[0] == '@';
  if (out->is_derived) {
    int i = derived_index(str, len);
    if (i < 0)
      return TA_E_COMPONENT_INVALID;
    name = derived_names[i].name;
    out->kind = derived_names[i].kind;
  }
  else {
    if (!is_lower_field_name(str, len))
      return TA_E_COMPONENT_INVALID;
    out->kind = KIND_FIELD;
  }
  /* A validated name needs no escaping: without parameters the identifier
   * serializes to "name"; one allocation holds it and a field's name. */
  char *plain_id = NULL;
  if (item->params.n == 0) {
    plain_id = apr_palloc(p, out->is_derived ? len + 3 : 2 * len + 4);
    plain_id[0] = '"';
    memcpy(plain_id + 1, str, len);
    plain_id[len + 1] = '"';
    plain_id[len + 2] = '\0';
    if (!out->is_derived) {
      char *field_name = plain_id + len + 3;
      memcpy(field_name, str, len);
      field_name[len] = '\0';
      name = field_name;
    }
  }
  else if (!out->is_derived) {
    name = apr_pstrmemdup(p, str, len);
  }
  out->name = name;

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
    else if (out->kind == KIND_QUERY_PARAM && strcmp(k, "name") == 0 && v->type == TA_SF_STRING)
      out->qname = apr_pstrmemdup(p, v->v.str.ptr, v->v.str.len);
    else
      return TA_E_COMPONENT_INVALID; /* unknown (incl. ;tr), wrong type, or wrong component */
  }
  /* bs re-encodes raw lines: it cannot be combined with structured handling. */
  if ((out->flags & TA_COMP_BS) && ((out->flags & TA_COMP_SF) || out->key))
    return TA_E_COMPONENT_INVALID;
  if (out->kind == KIND_QUERY_PARAM && !out->qname)
    return TA_E_COMPONENT_INVALID;

  out->item = *item;
  if (plain_id) {
    out->id = plain_id;
    out->id_len = len + 2;
    return TA_OK;
  }
  out->id = ta_sf_serialize_item(p, item);
  if (!out->id)
    return TA_E_COMPONENT_INVALID;
  out->id_len = strlen(out->id);
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
  if (a->kind != KIND_UNRESOLVED && b->kind != KIND_UNRESOLVED && a->kind != b->kind)
    return 0; /* different kinds have different names */
  return str_eq_nullable(a->name, b->name) && a->flags == b->flags
         && str_eq_nullable(a->key, b->key) && str_eq_nullable(a->qname, b->qname);
}

#define NOT_SAFE ((size_t)-1)

static int is_unsafe_byte(unsigned char c)
{
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Eight bytes with no byte below 0x20 and none equal to 0x7f. May refuse
 * a safe word (a tab, or a false alarm after an unsafe byte): the caller
 * then looks at its bytes one by one. */
static inline int word_is_plain(uint64_t w)
{
  static const uint64_t ones = UINT64_C(0x0101010101010101);
  static const uint64_t highs = UINT64_C(0x8080808080808080);
  uint64_t del = w ^ (ones * 0x7f);
  return ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs) == 0;
}

static int bytes_are_safe(const unsigned char *c, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (is_unsafe_byte(c[i]))
      return 0;
  return 1;
}

/* A value goes on one line of the base: no CR, LF or other controls.
 * Returns strlen(v), or NOT_SAFE; eight bytes at a time, one portable path
 * on every platform. */
static size_t safe_length(const char *v)
{
  size_t len = strlen(v), i = 0;
  const unsigned char *c = (const unsigned char *)v;
  uint64_t w;
  if (len < sizeof(w))
    return bytes_are_safe(c, len) ? len : NOT_SAFE;
  for (; i + sizeof(w) <= len; i += sizeof(w)) {
    memcpy(&w, c + i, sizeof(w));
    if (!word_is_plain(w) && !bytes_are_safe(c + i, sizeof(w)))
      return NOT_SAFE;
  }
  if (i < len) { /* the last eight bytes, overlapping */
    memcpy(&w, c + len - sizeof(w), sizeof(w));
    if (!word_is_plain(w) && !bytes_are_safe(c + len - sizeof(w), sizeof(w)))
      return NOT_SAFE;
  }
  return len;
}

static int is_safe_value(const char *v)
{
  return safe_length(v) != NOT_SAFE;
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

static int has_upper(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++)
    if ((unsigned)(s[i] - 'A') < 26u)
      return 1;
  return 0;
}

/* Eight bytes with each ASCII upper-case letter lowered (bit 0x20 set). */
static inline uint64_t word_lower(uint64_t w)
{
  static const uint64_t ones = UINT64_C(0x0101010101010101);
  static const uint64_t highs = UINT64_C(0x8080808080808080);
  uint64_t ascii = w & ones * 0x7f; /* no carries between bytes below */
  uint64_t upper = (ascii + ones * (0x80 - 'A')) & ~(ascii + ones * (0x80 - 'Z' - 1)) & ~w & highs;
  return w | (upper >> 2);
}

static void copy_lower(char *d, const char *s, size_t len)
{
  uint64_t w;
  if (len < sizeof(w)) {
    for (size_t i = 0; i < len; i++) {
      char c = s[i];
      d[i] = (unsigned)(c - 'A') < 26u ? (char)(c - 'A' + 'a') : c;
    }
    return;
  }
  size_t i = 0;
  for (; i + sizeof(w) <= len; i += sizeof(w)) {
    memcpy(&w, s + i, sizeof(w));
    w = word_lower(w);
    memcpy(d + i, &w, sizeof(w));
  }
  if (i < len) { /* the last eight bytes, overlapping what is already lowered */
    memcpy(&w, s + len - sizeof(w), sizeof(w));
    w = word_lower(w);
    memcpy(d + len - sizeof(w), &w, sizeof(w));
  }
}

/* Scheme and host are case-insensitive (RFC 3986 6.2.2.1): signed in lower
 * case. The module passes them lower case already: no copy then. */
static const char *lower_value(apr_pool_t *p, const char *s)
{
  if (!s)
    return NULL;
  size_t len = strlen(s);
  if (!has_upper(s, len))
    return s;
  char *d = apr_palloc(p, len + 1);
  copy_lower(d, s, len + 1);
  return d;
}

/* scheme "://" authority [path] ["?" query], in one allocation. */
static const char *target_uri(apr_pool_t *p, const ta_msg_t *target, const char *path)
{
  size_t scheme_len = strlen(target->scheme), auth_len = strlen(target->authority);
  size_t path_len = strcmp(path, "*") == 0 ? 0 : strlen(path);
  size_t query_len = target->query ? strlen(target->query) : 0;
  char *v = apr_palloc(p, scheme_len + 3 + auth_len + path_len + (target->query ? 1 : 0)
                              + query_len + 1);
  char *w = v;
  copy_lower(w, target->scheme, scheme_len);
  w += scheme_len;
  memcpy(w, "://", 3);
  w += 3;
  copy_lower(w, target->authority, auth_len);
  w += auth_len;
  memcpy(w, path, path_len);
  w += path_len;
  if (target->query) {
    *w++ = '?';
    memcpy(w, target->query, query_len);
    w += query_len;
  }
  *w = '\0';
  return v;
}

/* The values of one component: single-valued components use the caller's
 * slot *one, a repeated @query-param an array from the pool. */
typedef struct {
  const char **values;
  size_t n;
} value_list_t;

static ta_status_t derived_value(apr_pool_t *p, const ta_msg_t *msg, const ta_msg_t *target,
                                 unsigned kind, const ta_component_t *c, const char **one,
                                 value_list_t *out)
{
  const char *v = NULL;
  if (kind == KIND_STATUS) {
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
    switch (kind) {
    case KIND_METHOD:
      v = target->method;
      break;
    case KIND_SCHEME:
      v = lower_value(p, target->scheme);
      break;
    case KIND_AUTHORITY:
      v = lower_value(p, target->authority);
      break;
    case KIND_PATH:
      v = path;
      break;
    case KIND_QUERY:
      v = target->query ? apr_pstrcat(p, "?", target->query, NULL) : "?";
      break;
    case KIND_REQUEST_TARGET:
      if (target->target)
        v = target->target;
      else
        v = target->query ? apr_pstrcat(p, path, "?", target->query, NULL) : path;
      break;
    case KIND_TARGET_URI:
      if (!target->scheme || !target->authority)
        return TA_E_COMPONENT_MISSING;
      v = target_uri(p, target, path);
      break;
    case KIND_QUERY_PARAM: {
      apr_array_header_t *arr = apr_array_make(p, 2, sizeof(const char *));
      ta_status_t st = query_param_values(p, target->query, c->qname, arr);
      if (st != TA_OK)
        return st;
      out->values = (const char **)arr->elts;
      out->n = (size_t)arr->nelts;
      return TA_OK;
    }
    default:
      return TA_E_COMPONENT_INVALID;
    }
  }
  if (!v)
    return TA_E_COMPONENT_MISSING;
  *one = v;
  out->values = one;
  out->n = 1;
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

/* ;bs: each field line's value as a byte sequence, joined like field lines. */
static ta_status_t byte_sequence_value(apr_pool_t *p, const ta_msg_t *target, const char *name,
                                       const char **out)
{
  apr_array_header_t *parts = apr_array_make(p, 4, sizeof(const char *));
  const ta_field_t *f = (const ta_field_t *)target->fields->elts;
  for (int i = 0; i < target->fields->nelts; i++) {
    if (!ta_msg_name_eq(f[i].name, name))
      continue;
    char *b64 = ta_b64_encode(p, TA_B64_STD, (const unsigned char *)f[i].value, strlen(f[i].value));
    if (!b64)
      return TA_E_TOO_LARGE;
    if (parts->nelts)
      *(const char **)apr_array_push(parts) = ", ";
    *(const char **)apr_array_push(parts) = apr_pstrcat(p, ":", b64, ":", NULL);
  }
  *out = apr_array_pstrcat(p, parts, 0);
  return TA_OK;
}

static ta_status_t field_value(apr_pool_t *p, const ta_msg_t *target,
                               const ta_component_t *c, const char **one, value_list_t *out)
{
  const char *v;
  ta_status_t st;
  if (c->flags & TA_COMP_BS) {
    if (!ta_msg_has_field(target, c->name))
      return TA_E_COMPONENT_MISSING;
    if ((st = byte_sequence_value(p, target, c->name, &v)) != TA_OK)
      return st;
  }
  else {
    int lines;
    v = ta_msg_field_lines(p, target, c->name, &lines);
    if (lines == 0)
      return TA_E_COMPONENT_MISSING;
    if ((c->key || (c->flags & TA_COMP_SF)) && (st = structured_value(p, v, c, &v)) != TA_OK)
      return st;
  }
  *one = v;
  out->values = one;
  out->n = 1;
  return TA_OK;
}

/* The component's values, before the one-line check. */
static ta_status_t component_value_list(apr_pool_t *p, const ta_msg_t *msg,
                                        const ta_component_t *c, const char **one,
                                        value_list_t *out)
{
  const ta_msg_t *target = msg;
  if (c->flags & TA_COMP_REQ) {
    if (!msg->is_response)
      return TA_E_COMPONENT_INVALID; /* ;req only makes sense on a response */
    if (!msg->request)
      return TA_E_COMPONENT_MISSING;
    target = msg->request;
  }
  unsigned kind = component_kind(c);
  if (kind == KIND_FIELD)
    return field_value(p, target, c, one, out);
  return derived_value(p, msg, target, kind, c, one, out);
}

ta_status_t ta_component_values(apr_pool_t *p, const ta_msg_t *msg,
                                const ta_component_t *c,
                                const char ***values, size_t *n_values)
{
  const char **one = apr_palloc(p, sizeof(*one));
  value_list_t list;
  ta_status_t st = component_value_list(p, msg, c, one, &list);
  if (st != TA_OK)
    return st;
  for (size_t i = 0; i < list.n; i++)
    if (!is_safe_value(list.values[i]))
      return TA_E_COMPONENT_INVALID;
  *values = list.values;
  *n_values = list.n;
  return TA_OK;
}

#define SIGNATURE_PARAMS_PREFIX "\"@signature-params\": "

ta_status_t ta_sigbase_build(apr_pool_t *p, const ta_msg_t *msg,
                             const ta_component_t *components, size_t n,
                             const char *signature_params,
                             char **base, size_t *len)
{
  if (n > TA_SIG_MAX_COMPONENTS)
    return TA_E_TOO_LARGE;
  size_t params_len = signature_params ? safe_length(signature_params) : NOT_SAFE;
  if (params_len == NOT_SAFE)
    return TA_E_COMPONENT_INVALID;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (ta_component_equal(&components[i], &components[j]))
        return TA_E_COMPONENT_DUP;

  /* Values and their lengths first, then the base in one allocation. */
  struct {
    const char *one;     /* the value of a single-valued component */
    size_t one_len;
    value_list_t list;
    size_t id_len;
  } v[TA_SIG_MAX_COMPONENTS];
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const ta_component_t *c = &components[i];
    ta_status_t st = component_value_list(p, msg, c, &v[i].one, &v[i].list);
    if (st != TA_OK)
      return st;
    size_t first_len = 0;
    for (size_t k = 0; k < v[i].list.n; k++) {
      size_t l = safe_length(v[i].list.values[k]);
      if (l == NOT_SAFE)
        return TA_E_COMPONENT_INVALID;
      if (k == 0)
        first_len = l;
    }
    v[i].one_len = first_len;
    v[i].id_len = c->id_len ? c->id_len : strlen(c->id);
    for (size_t k = 0; k < v[i].list.n; k++) {
      total += v[i].id_len + (k == 0 ? first_len : strlen(v[i].list.values[k])) + 3;
      if (total > TA_SIG_MAX_BASE)
        return TA_E_TOO_LARGE;
    }
  }
  total += params_len + sizeof(SIGNATURE_PARAMS_PREFIX) - 1;
  if (total > TA_SIG_MAX_BASE)
    return TA_E_TOO_LARGE;

  char *b = apr_palloc(p, total + 1), *w = b;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < v[i].list.n; k++) {
      const char *value = v[i].list.values[k];
      size_t value_len = k == 0 ? v[i].one_len : strlen(value);
      memcpy(w, components[i].id, v[i].id_len);
      w += v[i].id_len;
      *w++ = ':';
      *w++ = ' ';
      memcpy(w, value, value_len);
      w += value_len;
      *w++ = '\n';
    }
  }
  memcpy(w, SIGNATURE_PARAMS_PREFIX, sizeof(SIGNATURE_PARAMS_PREFIX) - 1);
  w += sizeof(SIGNATURE_PARAMS_PREFIX) - 1;
  memcpy(w, signature_params, params_len + 1);
  *base = b;
  *len = total;
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

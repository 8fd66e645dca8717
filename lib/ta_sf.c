/* RFC 8941 structured fields (with RFC 9651 Date and Display String):
 * the parsing algorithms of section 4.2 and the serialization algorithms
 * of section 4.1, step by step. The grammar has a fixed depth (list ->
 * inner list -> item -> parameters), so nothing here recurses. */
#include "ta_sf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>

/* ---- character classes (ASCII only, locale-independent) ---------------- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_lcalpha(int c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_lchex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

static int is_tchar(int c)
{
  if (is_alpha(c) || is_digit(c))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_key_char(int c)
{
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t need;
    unsigned min_cp, cp;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) { need = 1; min_cp = 0x80; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; min_cp = 0x800; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; min_cp = 0x10000; cp = c & 0x07; }
    else return 0;
    if (len - i - 1 < need)
      return 0;
    for (size_t k = 1; k <= need; k++) {
      unsigned cc = s[i + k];
      if ((cc & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += need + 1;
  }
  return 1;
}

/* ---- parser ----------------------------------------------------------- */

typedef struct {
  apr_pool_t *pool;
  const unsigned char *s;
  size_t len;
  size_t pos;
} cursor_t;

static int at_end(const cursor_t *c) { return c->pos >= c->len; }
static int peek(const cursor_t *c) { return at_end(c) ? -1 : c->s[c->pos]; }

static void skip_sp(cursor_t *c)
{
  while (!at_end(c) && c->s[c->pos] == ' ')
    c->pos++;
}

static void skip_ows(cursor_t *c)
{
  while (!at_end(c) && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t'))
    c->pos++;
}

/* 4.2.3.3 Parsing a Key */
static ta_status_t parse_key(cursor_t *c, const char **out)
{
  size_t start = c->pos;
  int ch = peek(c);
  if (!(is_lcalpha(ch) || ch == '*'))
    return TA_E_SF_PARSE;
  while (!at_end(c) && is_key_char(c->s[c->pos]))
    c->pos++;
  *out = apr_pstrmemdup(c->pool, (const char *)c->s + start, c->pos - start);
  return TA_OK;
}

/* 4.2.4 Parsing an Integer or Decimal */
static ta_status_t parse_number(cursor_t *c, ta_sf_bare_t *out)
{
  int negative = 0, is_decimal = 0;
  size_t n_chars = 0, n_frac = 0;
  int64_t int_part = 0, frac_part = 0;

  if (peek(c) == '-') {
    negative = 1;
    c->pos++;
  }
  if (!is_digit(peek(c)))
    return TA_E_SF_PARSE;
  while (!at_end(c)) {
    int ch = c->s[c->pos];
    if (is_digit(ch)) {
      if (is_decimal) {
        if (n_frac == 3)
          return TA_E_SF_PARSE;
        frac_part = frac_part * 10 + (ch - '0');
        n_frac++;
      } else {
        if (n_chars == 15)   /* a 16th integer digit */
          return TA_E_SF_PARSE;
        int_part = int_part * 10 + (ch - '0');
      }
      n_chars++;
      c->pos++;
    } else if (!is_decimal && ch == '.') {
      if (n_chars > 12)
        return TA_E_SF_PARSE;
      is_decimal = 1;
      n_chars++;
      c->pos++;
    } else {
      break;
    }
  }
  if (!is_decimal) {
    out->type = TA_SF_INTEGER;
    out->v.integer = negative ? -int_part : int_part;
    return TA_OK;
  }
  if (n_frac == 0)   /* "1." */
    return TA_E_SF_PARSE;
  for (size_t k = n_frac; k < 3; k++)
    frac_part *= 10;
  out->type = TA_SF_DECIMAL;
  out->v.decimal_milli = (negative ? -1 : 1) * (int_part * 1000 + frac_part);
  return TA_OK;
}

/* Bytes up to the closing DQUOTE (escapes skipped), or to the end of the
 * input when there is none: the value is never longer, and sizing each
 * buffer by this span (not by the rest of the input) keeps memory linear
 * in the input however many strings it holds. */
static size_t quoted_span(const cursor_t *c, int with_escapes)
{
  size_t i = c->pos;
  while (i < c->len && c->s[i] != '"') {
    if (with_escapes && c->s[i] == '\\' && i + 1 < c->len)
      i++;
    i++;
  }
  return (i < c->len ? i : c->len) - c->pos;
}

/* 4.2.5 Parsing a String */
static ta_status_t parse_string(cursor_t *c, ta_sf_bare_t *out)
{
  c->pos++;   /* DQUOTE */
  char *buf = apr_palloc(c->pool, quoted_span(c, 1) + 1);
  size_t n = 0;
  for (;;) {
    if (at_end(c))
      return TA_E_SF_PARSE;
    int ch = c->s[c->pos++];
    if (ch == '\\') {
      if (at_end(c))
        return TA_E_SF_PARSE;
      ch = c->s[c->pos++];
      if (ch != '"' && ch != '\\')
        return TA_E_SF_PARSE;
      buf[n++] = (char)ch;
    } else if (ch == '"') {
      buf[n] = '\0';
      out->type = TA_SF_STRING;
      out->v.str.ptr = buf;
      out->v.str.len = n;
      return TA_OK;
    } else if (ch < 0x20 || ch > 0x7E) {
      return TA_E_SF_PARSE;
    } else {
      buf[n++] = (char)ch;
    }
  }
}

/* 4.2.6 Parsing a Token */
static ta_status_t parse_token(cursor_t *c, ta_sf_bare_t *out)
{
  size_t start = c->pos;
  int ch = peek(c);
  if (!(is_alpha(ch) || ch == '*'))
    return TA_E_SF_PARSE;
  c->pos++;
  while (!at_end(c)) {
    ch = c->s[c->pos];
    if (!(is_tchar(ch) || ch == ':' || ch == '/'))
      break;
    c->pos++;
  }
  out->type = TA_SF_TOKEN;
  out->v.str.len = c->pos - start;
  out->v.str.ptr = apr_pstrmemdup(c->pool, (const char *)c->s + start, c->pos - start);
  return TA_OK;
}

/* Sextet of each base64 character, 64 for everything outside the alphabet:
 * the signature is the longest byte sequence a request carries (344
 * characters for RSA-2048), so decoding is table-driven. */
static const unsigned char b64_sextet[256] = {
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
  X64, X64,
  64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64, 64, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
  64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 64,
  64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,
  X64, X64, X64, X64, X64, X64, X64, X64,
#undef X64
};

/* 4.2.7 Parsing a Byte Sequence. Standard alphabet only; '=' only as
 * trailing padding that completes a 4-character group. As the RFC asks
 * (SHOULD NOT fail), absent padding and non-zero pad bits are accepted;
 * the serializer then emits the canonical form. */
static ta_status_t parse_bytes(cursor_t *c, ta_sf_bare_t *out)
{
  c->pos++;   /* ':' */
  size_t start = c->pos, end = start;
  while (end < c->len && c->s[end] != ':')
    end++;
  if (end >= c->len)
    return TA_E_SF_PARSE;
  size_t n_data = end - start, n_pad = 0;
  while (n_data > 0 && n_pad < 2 && c->s[start + n_data - 1] == '=') {
    n_data--;
    n_pad++;
  }
  for (size_t i = 0; i < n_data; i++)
    if (b64_sextet[c->s[start + i]] == 64)
      return TA_E_SF_PARSE;
  if (n_data % 4 == 1)
    return TA_E_SF_PARSE;
  if (n_pad > 0 && (n_data + n_pad) % 4 != 0)
    return TA_E_SF_PARSE;

  const unsigned char *in = c->s + start;
  unsigned char *buf = apr_palloc(c->pool, n_data / 4 * 3 + 3 + 1);
  size_t n = 0, i = 0;
  for (; i + 4 <= n_data; i += 4) {
    uint32_t group = (uint32_t)b64_sextet[in[i]] << 18 | (uint32_t)b64_sextet[in[i + 1]] << 12
                     | (uint32_t)b64_sextet[in[i + 2]] << 6 | b64_sextet[in[i + 3]];
    buf[n++] = (unsigned char)(group >> 16);
    buf[n++] = (unsigned char)(group >> 8);
    buf[n++] = (unsigned char)group;
  }
  /* The tail has 2 or 3 characters (1 was refused above); pad bits may be
   * non-zero and are dropped. */
  if (i < n_data) {
    uint32_t group = (uint32_t)b64_sextet[in[i]] << 18 | (uint32_t)b64_sextet[in[i + 1]] << 12;
    if (n_data - i == 3)
      group |= (uint32_t)b64_sextet[in[i + 2]] << 6;
    buf[n++] = (unsigned char)(group >> 16);
    if (n_data - i == 3)
      buf[n++] = (unsigned char)(group >> 8);
  }
  buf[n] = '\0';
  c->pos = end + 1;
  out->type = TA_SF_BYTES;
  out->v.str.ptr = (const char *)buf;
  out->v.str.len = n;
  return TA_OK;
}

/* 4.2.8 Parsing a Boolean */
static ta_status_t parse_boolean(cursor_t *c, ta_sf_bare_t *out)
{
  c->pos++;   /* '?' */
  int ch = peek(c);
  if (ch != '0' && ch != '1')
    return TA_E_SF_PARSE;
  c->pos++;
  out->type = TA_SF_BOOLEAN;
  out->v.boolean = ch == '1';
  return TA_OK;
}

/* RFC 9651 4.2.9 Parsing a Date */
static ta_status_t parse_date(cursor_t *c, ta_sf_bare_t *out)
{
  c->pos++;   /* '@' */
  ta_sf_bare_t num;
  if (parse_number(c, &num) != TA_OK || num.type != TA_SF_INTEGER)
    return TA_E_SF_PARSE;
  out->type = TA_SF_DATE;
  out->v.integer = num.v.integer;
  return TA_OK;
}

static int hex_value(int ch)
{
  return is_digit(ch) ? ch - '0' : ch - 'a' + 10;
}

/* RFC 9651 4.2.10 Parsing a Display String */
static ta_status_t parse_display_string(cursor_t *c, ta_sf_bare_t *out)
{
  c->pos++;   /* '%' */
  if (peek(c) != '"')
    return TA_E_SF_PARSE;
  c->pos++;
  unsigned char *buf = apr_palloc(c->pool, quoted_span(c, 0) + 1);
  size_t n = 0;
  for (;;) {
    if (at_end(c))
      return TA_E_SF_PARSE;
    int ch = c->s[c->pos++];
    if (ch < 0x20 || ch > 0x7E)
      return TA_E_SF_PARSE;
    if (ch == '%') {
      if (c->len - c->pos < 2 || !is_lchex(c->s[c->pos]) || !is_lchex(c->s[c->pos + 1]))
        return TA_E_SF_PARSE;
      buf[n++] = (unsigned char)(hex_value(c->s[c->pos]) * 16 + hex_value(c->s[c->pos + 1]));
      c->pos += 2;
    } else if (ch == '"') {
      if (!utf8_valid(buf, n))
        return TA_E_SF_PARSE;
      buf[n] = '\0';
      out->type = TA_SF_DISPLAY_STRING;
      out->v.str.ptr = (const char *)buf;
      out->v.str.len = n;
      return TA_OK;
    } else {
      buf[n++] = (unsigned char)ch;
    }
  }
}

/* 4.2.3.1 Parsing a Bare Item */
static ta_status_t parse_bare_item(cursor_t *c, ta_sf_bare_t *out)
{
  memset(out, 0, sizeof(*out));
  int ch = peek(c);
  if (ch == '-' || is_digit(ch))
    return parse_number(c, out);
  if (ch == '"')
    return parse_string(c, out);
  if (ch == '*' || is_alpha(ch))
    return parse_token(c, out);
  if (ch == ':')
    return parse_bytes(c, out);
  if (ch == '?')
    return parse_boolean(c, out);
  if (ch == '@')
    return parse_date(c, out);
  if (ch == '%')
    return parse_display_string(c, out);
  return TA_E_SF_PARSE;
}

static ta_sf_bare_t bare_true(void)
{
  ta_sf_bare_t b;
  memset(&b, 0, sizeof(b));
  b.type = TA_SF_BOOLEAN;
  b.v.boolean = 1;
  return b;
}

/* 4.2.3.2 Parsing Parameters. A repeated key overwrites the earlier value
 * in its original position. */
static ta_status_t parse_parameters(cursor_t *c, ta_sf_params_t *out)
{
  apr_array_header_t *arr = NULL;
  while (peek(c) == ';') {
    c->pos++;
    skip_sp(c);
    const char *key;
    ta_sf_bare_t value = bare_true();
    if (parse_key(c, &key) != TA_OK)
      return TA_E_SF_PARSE;
    if (peek(c) == '=') {
      c->pos++;
      if (parse_bare_item(c, &value) != TA_OK)
        return TA_E_SF_PARSE;
    }
    if (arr == NULL)
      arr = apr_array_make(c->pool, 4, sizeof(ta_sf_param_t));
    ta_sf_param_t *slot = NULL;
    for (int i = 0; i < arr->nelts; i++) {
      ta_sf_param_t *existing = &APR_ARRAY_IDX(arr, i, ta_sf_param_t);
      if (strcmp(existing->key, key) == 0) {
        slot = existing;
        break;
      }
    }
    if (slot == NULL) {
      if (arr->nelts >= TA_SF_MAX_PARAMS)
        return TA_E_SF_PARSE;
      slot = apr_array_push(arr);
      slot->key = key;
    }
    slot->value = value;
  }
  out->items = arr ? (ta_sf_param_t *)arr->elts : NULL;
  out->n = arr ? (size_t)arr->nelts : 0;
  return TA_OK;
}

/* 4.2.3 Parsing an Item */
static ta_status_t parse_item(cursor_t *c, ta_sf_item_t *out)
{
  if (parse_bare_item(c, &out->bare) != TA_OK)
    return TA_E_SF_PARSE;
  return parse_parameters(c, &out->params);
}

/* 4.2.1.2 Parsing an Inner List */
static ta_status_t parse_inner_list(cursor_t *c, ta_sf_member_t *out)
{
  apr_array_header_t *items = apr_array_make(c->pool, 4, sizeof(ta_sf_item_t));
  c->pos++;   /* '(' */
  for (;;) {
    skip_sp(c);
    if (at_end(c))
      return TA_E_SF_PARSE;
    if (peek(c) == ')') {
      c->pos++;
      out->is_inner_list = 1;
      out->inner = (ta_sf_item_t *)items->elts;
      out->n_inner = (size_t)items->nelts;
      return parse_parameters(c, &out->params);
    }
    if (items->nelts >= TA_SF_MAX_INNER)
      return TA_E_SF_PARSE;
    ta_sf_item_t *item = apr_array_push(items);
    if (parse_item(c, item) != TA_OK)
      return TA_E_SF_PARSE;
    if (peek(c) != ' ' && peek(c) != ')')
      return TA_E_SF_PARSE;
  }
}

/* 4.2.1.1 Parsing an Item or Inner List */
static ta_status_t parse_member(cursor_t *c, ta_sf_member_t *out)
{
  memset(out, 0, sizeof(*out));
  if (peek(c) == '(')
    return parse_inner_list(c, out);
  return parse_item(c, &out->item);
}

/* After a member: OWS, then end of input or a comma followed by another member. */
static ta_status_t after_member(cursor_t *c, int *done)
{
  skip_ows(c);
  if (at_end(c)) {
    *done = 1;
    return TA_OK;
  }
  if (c->s[c->pos] != ',')
    return TA_E_SF_PARSE;
  c->pos++;
  skip_ows(c);
  if (at_end(c))   /* trailing comma */
    return TA_E_SF_PARSE;
  *done = 0;
  return TA_OK;
}

/* 4.2: common entry (size bound, leading SP) and exit (trailing SP, nothing left). */
static ta_status_t begin(cursor_t *c, apr_pool_t *p, const char *in, size_t len)
{
  if (p == NULL || (in == NULL && len > 0))
    return TA_E_SF_PARSE;
  if (len > TA_SF_MAX_INPUT)
    return TA_E_TOO_LARGE;
  c->pool = p;
  c->s = (const unsigned char *)(in ? in : "");
  c->len = len;
  c->pos = 0;
  skip_sp(c);
  return TA_OK;
}

static ta_status_t finish(cursor_t *c)
{
  skip_sp(c);
  return at_end(c) ? TA_OK : TA_E_SF_PARSE;
}

ta_status_t ta_sf_parse_item(apr_pool_t *p, const char *in, size_t len, ta_sf_item_t *out)
{
  cursor_t c;
  ta_status_t st;
  if (out == NULL)
    return TA_E_SF_PARSE;
  memset(out, 0, sizeof(*out));
  if ((st = begin(&c, p, in, len)) != TA_OK)
    return st;
  if (parse_item(&c, out) != TA_OK || finish(&c) != TA_OK) {
    memset(out, 0, sizeof(*out));
    return TA_E_SF_PARSE;
  }
  return TA_OK;
}

ta_status_t ta_sf_parse_list(apr_pool_t *p, const char *in, size_t len, ta_sf_list_t *out)
{
  cursor_t c;
  ta_status_t st;
  if (out == NULL)
    return TA_E_SF_PARSE;
  memset(out, 0, sizeof(*out));
  if ((st = begin(&c, p, in, len)) != TA_OK)
    return st;
  apr_array_header_t *members = apr_array_make(p, 4, sizeof(ta_sf_member_t));
  int done = at_end(&c);
  while (!done) {
    if (members->nelts >= TA_SF_MAX_MEMBERS)
      return TA_E_SF_PARSE;
    ta_sf_member_t *m = apr_array_push(members);
    if (parse_member(&c, m) != TA_OK || after_member(&c, &done) != TA_OK)
      return TA_E_SF_PARSE;
  }
  if (finish(&c) != TA_OK)
    return TA_E_SF_PARSE;
  out->members = (ta_sf_member_t *)members->elts;
  out->n = (size_t)members->nelts;
  return TA_OK;
}

#define DICT_SCAN_MAX 8

/* 1 + the index of key among the dictionary's keys so far, 0 if absent. */
static uintptr_t dict_index_of(const apr_array_header_t *keys, apr_hash_t *index, const char *key)
{
  if (index != NULL)
    return (uintptr_t)apr_hash_get(index, key, APR_HASH_KEY_STRING);
  for (int i = 0; i < keys->nelts; i++)
    if (strcmp(APR_ARRAY_IDX(keys, i, const char *), key) == 0)
      return (uintptr_t)(i + 1);
  return 0;
}

ta_status_t ta_sf_parse_dict(apr_pool_t *p, const char *in, size_t len, ta_sf_dict_t *out)
{
  cursor_t c;
  ta_status_t st;
  if (out == NULL)
    return TA_E_SF_PARSE;
  memset(out, 0, sizeof(*out));
  if ((st = begin(&c, p, in, len)) != TA_OK)
    return st;
  apr_array_header_t *keys = apr_array_make(p, 4, sizeof(const char *));
  apr_array_header_t *members = apr_array_make(p, 4, sizeof(ta_sf_member_t));
  /* key -> 1 + index, so a repeated key overwrites in place in O(1);
   * built only once the dictionary outgrows a short linear scan (the
   * signature fields usually carry one member). */
  apr_hash_t *index = NULL;
  int done = at_end(&c);
  while (!done) {
    const char *key;
    ta_sf_member_t member;
    if (parse_key(&c, &key) != TA_OK)
      return TA_E_SF_PARSE;
    if (peek(&c) == '=') {
      c.pos++;
      if (parse_member(&c, &member) != TA_OK)
        return TA_E_SF_PARSE;
    } else {
      memset(&member, 0, sizeof(member));
      member.item.bare = bare_true();
      if (parse_parameters(&c, &member.item.params) != TA_OK)
        return TA_E_SF_PARSE;
    }
    uintptr_t at = dict_index_of(keys, index, key);
    if (at != 0) {
      APR_ARRAY_IDX(members, at - 1, ta_sf_member_t) = member;
    } else {
      if (members->nelts >= TA_SF_MAX_MEMBERS)
        return TA_E_SF_PARSE;
      APR_ARRAY_PUSH(keys, const char *) = key;
      *(ta_sf_member_t *)apr_array_push(members) = member;
      if (index == NULL && members->nelts > DICT_SCAN_MAX) {
        index = apr_hash_make(p);
        for (int i = 0; i < keys->nelts; i++)
          apr_hash_set(index, APR_ARRAY_IDX(keys, i, const char *), APR_HASH_KEY_STRING,
                       (void *)(uintptr_t)(i + 1));
      } else if (index != NULL) {
        apr_hash_set(index, key, APR_HASH_KEY_STRING, (void *)(uintptr_t)members->nelts);
      }
    }
    if (after_member(&c, &done) != TA_OK)
      return TA_E_SF_PARSE;
  }
  if (finish(&c) != TA_OK)
    return TA_E_SF_PARSE;
  out->keys = (const char **)keys->elts;
  out->members = (ta_sf_member_t *)members->elts;
  out->n = (size_t)members->nelts;
  return TA_OK;
}

/* ---- serializer --------------------------------------------------------- */

/* Output buffer: on the stack while it fits (every serialization a request
 * needs does), on the heap past that; copied into the pool once complete.
 * Any failure (bad value or no memory) latches and the result is NULL. */
#define OUT_INLINE 512

typedef struct {
  char *buf;
  size_t len, cap;
  int failed;
  char inline_buf[OUT_INLINE];
} out_t;

static void out_init(out_t *o)
{
  o->buf = o->inline_buf;
  o->len = 0;
  o->cap = OUT_INLINE;
  o->failed = 0;
}

static int out_grow(out_t *o, size_t n)
{
  if (n > SIZE_MAX / 4 - o->len) {
    o->failed = 1;
    return 0;
  }
  size_t cap = o->cap;
  while (cap < o->len + n)
    cap *= 2;
  char *nb = o->buf == o->inline_buf ? malloc(cap) : realloc(o->buf, cap);
  if (nb == NULL) {
    o->failed = 1;
    return 0;
  }
  if (o->buf == o->inline_buf)
    memcpy(nb, o->inline_buf, o->len);
  o->buf = nb;
  o->cap = cap;
  return 1;
}

static void out_bytes(out_t *o, const char *s, size_t n)
{
  if (o->failed || (n > o->cap - o->len && !out_grow(o, n)))
    return;
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void out_str(out_t *o, const char *s) { out_bytes(o, s, strlen(s)); }

static void out_char(out_t *o, char ch)
{
  if (o->failed || (o->len == o->cap && !out_grow(o, 1)))
    return;
  o->buf[o->len++] = ch;
}

static char *out_finish(out_t *o, apr_pool_t *p)
{
  char *result = NULL;
  if (!o->failed && p != NULL)
    result = apr_pstrmemdup(p, o->buf, o->len);
  if (o->buf != o->inline_buf)
    free(o->buf);
  return result;
}

/* 4.1.4 Serializing an Integer (also the Date's seconds) */
static void ser_integer(out_t *o, int64_t v)
{
  if (v < -TA_SF_MAX_INTEGER || v > TA_SF_MAX_INTEGER) {
    o->failed = 1;
    return;
  }
  char tmp[24];
  size_t at = sizeof(tmp);
  uint64_t mag = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
  do {
    tmp[--at] = (char)('0' + mag % 10);
    mag /= 10;
  } while (mag != 0);
  if (v < 0)
    tmp[--at] = '-';
  out_bytes(o, tmp + at, sizeof(tmp) - at);
}

/* 4.1.5 Serializing a Decimal: at most 12 integer digits, the shortest
 * fraction of one to three digits. */
static void ser_decimal(out_t *o, int64_t milli)
{
  if (milli < -TA_SF_MAX_INTEGER || milli > TA_SF_MAX_INTEGER) {
    o->failed = 1;
    return;
  }
  int64_t mag = milli < 0 ? -milli : milli;
  int64_t frac = mag % 1000;
  char tmp[48];
  if (frac % 100 == 0)
    snprintf(tmp, sizeof(tmp), "%s%lld.%lld", milli < 0 ? "-" : "", (long long)(mag / 1000), (long long)(frac / 100));
  else if (frac % 10 == 0)
    snprintf(tmp, sizeof(tmp), "%s%lld.%02lld", milli < 0 ? "-" : "", (long long)(mag / 1000), (long long)(frac / 10));
  else
    snprintf(tmp, sizeof(tmp), "%s%lld.%03lld", milli < 0 ? "-" : "", (long long)(mag / 1000), (long long)frac);
  out_str(o, tmp);
}

/* 4.1.6 Serializing a String: runs of characters that need no escape are
 * copied whole. */
static void ser_string(out_t *o, const char *s, size_t n)
{
  out_char(o, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch > 0x7E) {
      o->failed = 1;
      return;
    }
    if (ch == '"' || ch == '\\') {
      out_bytes(o, s + run, i - run);
      out_char(o, '\\');
      run = i;
    }
  }
  out_bytes(o, s + run, n - run);
  out_char(o, '"');
}

/* 4.1.7 Serializing a Token */
static void ser_token(out_t *o, const char *s, size_t n)
{
  if (n == 0 || !(is_alpha((unsigned char)s[0]) || s[0] == '*')) {
    o->failed = 1;
    return;
  }
  for (size_t i = 1; i < n; i++) {
    int ch = (unsigned char)s[i];
    if (!(is_tchar(ch) || ch == ':' || ch == '/')) {
      o->failed = 1;
      return;
    }
  }
  out_bytes(o, s, n);
}

/* 4.1.8 Serializing a Byte Sequence: padded standard base64. */
static void ser_bytes(out_t *o, const unsigned char *s, size_t n)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out_char(o, ':');
  for (size_t i = 0; i < n; i += 3) {
    uint32_t group = (uint32_t)s[i] << 16;
    if (i + 1 < n) group |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n) group |= s[i + 2];
    char quad[4] = {
      alphabet[(group >> 18) & 63], alphabet[(group >> 12) & 63],
      i + 1 < n ? alphabet[(group >> 6) & 63] : '=',
      i + 2 < n ? alphabet[group & 63] : '=',
    };
    out_bytes(o, quad, 4);
  }
  out_char(o, ':');
}

/* RFC 9651 4.1.11 Serializing a Display String */
static void ser_display_string(out_t *o, const unsigned char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  if (!utf8_valid(s, n)) {
    o->failed = 1;
    return;
  }
  out_str(o, "%\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = s[i];
    if (ch == '%' || ch == '"' || ch < 0x20 || ch > 0x7E) {
      char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
      out_bytes(o, esc, 3);
    } else {
      out_char(o, (char)ch);
    }
  }
  out_char(o, '"');
}

static int str_ok(const ta_sf_bare_t *b)
{
  return b->v.str.ptr != NULL || b->v.str.len == 0;
}

/* 4.1.3.1 Serializing a Bare Item */
static void ser_bare(out_t *o, const ta_sf_bare_t *b)
{
  if (b == NULL) {
    o->failed = 1;
    return;
  }
  switch (b->type) {
  case TA_SF_INTEGER:
    ser_integer(o, b->v.integer);
    return;
  case TA_SF_DECIMAL:
    ser_decimal(o, b->v.decimal_milli);
    return;
  case TA_SF_BOOLEAN:
    if (b->v.boolean != 0 && b->v.boolean != 1)
      o->failed = 1;
    else
      out_str(o, b->v.boolean ? "?1" : "?0");
    return;
  case TA_SF_DATE:
    out_char(o, '@');
    ser_integer(o, b->v.integer);
    return;
  case TA_SF_STRING:
  case TA_SF_TOKEN:
  case TA_SF_BYTES:
  case TA_SF_DISPLAY_STRING:
    break;
  default:
    o->failed = 1;
    return;
  }
  if (!str_ok(b)) {
    o->failed = 1;
    return;
  }
  const char *s = b->v.str.ptr ? b->v.str.ptr : "";
  if (b->type == TA_SF_STRING)
    ser_string(o, s, b->v.str.len);
  else if (b->type == TA_SF_TOKEN)
    ser_token(o, s, b->v.str.len);
  else if (b->type == TA_SF_BYTES)
    ser_bytes(o, (const unsigned char *)s, b->v.str.len);
  else
    ser_display_string(o, (const unsigned char *)s, b->v.str.len);
}

/* 4.1.1.3 Serializing a Key */
static void ser_key(out_t *o, const char *key)
{
  if (key == NULL || !(is_lcalpha((unsigned char)key[0]) || key[0] == '*')) {
    o->failed = 1;
    return;
  }
  for (const char *k = key + 1; *k; k++)
    if (!is_key_char((unsigned char)*k)) {
      o->failed = 1;
      return;
    }
  out_str(o, key);
}

static int is_bare_true(const ta_sf_bare_t *b)
{
  return b->type == TA_SF_BOOLEAN && b->v.boolean == 1;
}

/* 4.1.1.2 Serializing Parameters */
static void ser_params(out_t *o, const ta_sf_params_t *params)
{
  if (params == NULL || params->n == 0)
    return;
  if (params->items == NULL) {
    o->failed = 1;
    return;
  }
  for (size_t i = 0; i < params->n; i++) {
    out_char(o, ';');
    ser_key(o, params->items[i].key);
    if (!is_bare_true(&params->items[i].value)) {
      out_char(o, '=');
      ser_bare(o, &params->items[i].value);
    }
  }
}

static void ser_item(out_t *o, const ta_sf_item_t *item)
{
  if (item == NULL) {
    o->failed = 1;
    return;
  }
  ser_bare(o, &item->bare);
  ser_params(o, &item->params);
}

/* 4.1.1.1 Serializing an Inner List, or an Item */
static void ser_member(out_t *o, const ta_sf_member_t *m)
{
  if (m == NULL) {
    o->failed = 1;
    return;
  }
  if (!m->is_inner_list) {
    ser_item(o, &m->item);
    return;
  }
  if (m->n_inner > 0 && m->inner == NULL) {
    o->failed = 1;
    return;
  }
  out_char(o, '(');
  for (size_t i = 0; i < m->n_inner; i++) {
    if (i > 0)
      out_char(o, ' ');
    ser_item(o, &m->inner[i]);
  }
  out_char(o, ')');
  ser_params(o, &m->params);
}

char *ta_sf_serialize_bare(apr_pool_t *p, const ta_sf_bare_t *b)
{
  out_t o;
  out_init(&o);
  ser_bare(&o, b);
  return out_finish(&o, p);
}

char *ta_sf_serialize_params(apr_pool_t *p, const ta_sf_params_t *params)
{
  out_t o;
  out_init(&o);
  ser_params(&o, params);
  return out_finish(&o, p);
}

char *ta_sf_serialize_item(apr_pool_t *p, const ta_sf_item_t *item)
{
  out_t o;
  out_init(&o);
  ser_item(&o, item);
  return out_finish(&o, p);
}

char *ta_sf_serialize_member(apr_pool_t *p, const ta_sf_member_t *m)
{
  out_t o;
  out_init(&o);
  ser_member(&o, m);
  return out_finish(&o, p);
}

/* 4.1.1 Serializing a List */
char *ta_sf_serialize_list(apr_pool_t *p, const ta_sf_list_t *l)
{
  out_t o;
  out_init(&o);
  if (l == NULL || (l->n > 0 && l->members == NULL))
    o.failed = 1;
  for (size_t i = 0; !o.failed && i < l->n; i++) {
    if (i > 0)
      out_str(&o, ", ");
    ser_member(&o, &l->members[i]);
  }
  return out_finish(&o, p);
}

/* 4.1.2 Serializing a Dictionary: a member whose value is Boolean true
 * is written as its key (plus parameters) alone. */
char *ta_sf_serialize_dict(apr_pool_t *p, const ta_sf_dict_t *d)
{
  out_t o;
  out_init(&o);
  if (d == NULL || (d->n > 0 && (d->members == NULL || d->keys == NULL)))
    o.failed = 1;
  for (size_t i = 0; !o.failed && i < d->n; i++) {
    const ta_sf_member_t *m = &d->members[i];
    if (i > 0)
      out_str(&o, ", ");
    ser_key(&o, d->keys[i]);
    if (!m->is_inner_list && is_bare_true(&m->item.bare)) {
      ser_params(&o, &m->item.params);
    } else {
      out_char(&o, '=');
      ser_member(&o, m);
    }
  }
  return out_finish(&o, p);
}

/* ---- decimals from binary doubles --------------------------------------- */

ta_status_t ta_sf_decimal_from_double(double d, int64_t *milli_out)
{
  char text[40];
  int prec;
  if (milli_out == NULL || !isfinite(d) || d >= 1e15 || d <= -1e15)
    return TA_E_SF_PARSE;
  /* Shortest "%.*e" rendering that reads back as the same double. */
  for (prec = 0; prec < 17; prec++) {
    snprintf(text, sizeof(text), "%.*e", prec, d);
    if (strtod(text, NULL) == d)
      break;
  }
  /* text: [-]D[.DDDD]e(+|-)XX -> integer mantissa m, n_digits, exponent e */
  const char *s = text;
  int negative = 0;
  if (*s == '-') {
    negative = 1;
    s++;
  }
  int64_t m = 0;
  int n_digits = 0;
  for (; *s && *s != 'e'; s++) {
    if (is_digit((unsigned char)*s)) {
      m = m * 10 + (*s - '0');
      n_digits++;
    }
  }
  if (*s != 'e' || n_digits == 0 || n_digits > 18)
    return TA_E_INTERNAL;
  int e = atoi(s + 1);
  /* value = m * 10^(e - (n_digits - 1)); milli = m * 10^k */
  int k = e + 3 - (n_digits - 1);
  int64_t milli;
  if (k >= 0) {
    milli = m;
    for (int i = 0; i < k; i++) {
      if (milli > INT64_MAX / 10)
        return TA_E_SF_PARSE;
      milli *= 10;
    }
  } else if (-k > 18) {
    milli = 0;   /* far below half a thousandth */
  } else {
    int64_t div = 1;
    for (int i = 0; i < -k; i++)
      div *= 10;
    int64_t q = m / div, r = m % div;
    /* ties to even; 2*r cannot overflow as r < 10^18 */
    if (r > div - r || (r == div - r && (q & 1)))
      q++;
    milli = q;
  }
  *milli_out = negative ? -milli : milli;
  return TA_OK;
}

/* ---- lookups ------------------------------------------------------------ */

const ta_sf_bare_t *ta_sf_param_get(const ta_sf_params_t *params, const char *key)
{
  if (params == NULL || key == NULL || params->items == NULL)
    return NULL;
  for (size_t i = 0; i < params->n; i++)
    if (params->items[i].key && strcmp(params->items[i].key, key) == 0)
      return &params->items[i].value;
  return NULL;
}

const ta_sf_member_t *ta_sf_dict_get(const ta_sf_dict_t *d, const char *key)
{
  if (d == NULL || key == NULL || d->keys == NULL || d->members == NULL)
    return NULL;
  for (size_t i = 0; i < d->n; i++)
    if (d->keys[i] && strcmp(d->keys[i], key) == 0)
      return &d->members[i];
  return NULL;
}

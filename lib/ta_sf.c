/* RFC 8941 structured fields (with RFC 9651 Date and Display String):
 * the parsing algorithms of section 4.2 and the serialization algorithms
 * of section 4.1, step by step. The grammar has a fixed depth (list ->
 * inner list -> item -> parameters), so nothing here recurses.
 *
 * Both signature fields are parsed, and the signature parameters
 * serialized, on every request, so the hot loops work on a pointer and an
 * end, classify characters with one table lookup, and copy whole runs. */
#include "ta_sf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

/* ---- character classes (ASCII only, locale-independent) ---------------- */

enum {
  CC_DIGIT = 1 << 0,
  CC_KEY_FIRST = 1 << 1,    /* lcalpha / "*" */
  CC_KEY = 1 << 2,          /* lcalpha / DIGIT / "_" / "-" / "." / "*" */
  CC_TOKEN_FIRST = 1 << 3,  /* ALPHA / "*" */
  CC_TOKEN = 1 << 4,        /* tchar / ":" / "/" */
  CC_STRING = 1 << 5,       /* printable ASCII that a String carries unescaped */
  CC_LCHEX = 1 << 6         /* DIGIT / "a"-"f" */
};

#define CC_IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define CC_IS_LC(c) ((c) >= 'a' && (c) <= 'z')
#define CC_IS_ALPHA(c) (CC_IS_LC(c) || ((c) >= 'A' && (c) <= 'Z'))
#define CC_IS_TCHAR(c) (CC_IS_ALPHA(c) || CC_IS_DIGIT(c) || (c) == '!' || (c) == '#' || (c) == '$' \
                        || (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+'    \
                        || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`'     \
                        || (c) == '|' || (c) == '~')
#define CC_OF(c)                                                                                  \
  ((CC_IS_DIGIT(c) ? CC_DIGIT : 0)                                                                \
   | (CC_IS_LC(c) || (c) == '*' ? CC_KEY_FIRST : 0)                                               \
   | (CC_IS_LC(c) || CC_IS_DIGIT(c) || (c) == '_' || (c) == '-' || (c) == '.' || (c) == '*'       \
      ? CC_KEY : 0)                                                                               \
   | (CC_IS_ALPHA(c) || (c) == '*' ? CC_TOKEN_FIRST : 0)                                          \
   | (CC_IS_TCHAR(c) || (c) == ':' || (c) == '/' ? CC_TOKEN : 0)                                  \
   | ((c) >= 0x20 && (c) <= 0x7E && (c) != '"' && (c) != '\\' ? CC_STRING : 0)                    \
   | (CC_IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') ? CC_LCHEX : 0))
/* M(0), M(1), ... M(255): a 256-entry table computed by the compiler. */
#define REP_4(M, c) M(c), M((c) + 1), M((c) + 2), M((c) + 3)
#define REP_16(M, c) REP_4(M, c), REP_4(M, (c) + 4), REP_4(M, (c) + 8), REP_4(M, (c) + 12)
#define REP_64(M, c) REP_16(M, c), REP_16(M, (c) + 16), REP_16(M, (c) + 32), REP_16(M, (c) + 48)
#define REP_256(M) REP_64(M, 0), REP_64(M, 64), REP_64(M, 128), REP_64(M, 192)

static const unsigned char char_class[256] = { REP_256(CC_OF) };

static int has_class(int c, unsigned cls) { return (char_class[(unsigned char)c] & cls) != 0; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return CC_IS_ALPHA(c); }

/* Length of the longest prefix of s[0..n) in class cls (one CC_ bit),
 * checking four characters per step while that many remain. */
static size_t class_run(const unsigned char *s, size_t n, unsigned cls)
{
  size_t i = 0;
  while (n - i >= 4
         && (char_class[s[i]] & char_class[s[i + 1]] & char_class[s[i + 2]] & char_class[s[i + 3]] & cls))
    i += 4;
  while (i < n && (char_class[s[i]] & cls))
    i++;
  return i;
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
  const unsigned char *at, *end;
  /* One pool block for the parsed text (keys, strings, tokens, bytes),
   * sized by the input: every value is at most as long as its input span,
   * and its NUL takes the place of the delimiter before it, so a block of
   * len + 1 normally holds them all. Should it not, a value falls back to
   * its own allocation. */
  char *text;
  size_t text_left;
} cursor_t;

/* Whether the rest of the input, and a NUL, fits in the text block: then
 * a value can be copied there as it is scanned, before its length is known. */
static int text_holds_rest(const cursor_t *c, const unsigned char *from)
{
  return c->text_left > (size_t)(c->end - from);
}

static void text_commit(cursor_t *c, size_t n)
{
  c->text += n;
  c->text_left -= n;
}

static char *text_alloc(cursor_t *c, size_t n)
{
  if (n > c->text_left)
    return apr_palloc(c->pool, n);
  char *got = c->text;
  c->text += n;
  c->text_left -= n;
  return got;
}

static const char *text_copy(cursor_t *c, const unsigned char *s, size_t n)
{
  char *copy = text_alloc(c, n + 1);
  memcpy(copy, s, n);
  copy[n] = '\0';
  return copy;
}

/* Members, items and parameters collect on the stack while they are few
 * (a signature field has one member, a handful of components and
 * parameters), and move to the pool once: at the end, or when they outgrow
 * the stack space (then doubling in the pool). */
typedef struct {
  void *elts;
  const void *on_stack;
  size_t n, cap, size;
} vec_t;

static void vec_init(vec_t *v, void *stack_space, size_t cap, size_t size)
{
  v->elts = stack_space;
  v->on_stack = stack_space;
  v->n = 0;
  v->cap = cap;
  v->size = size;
}

static void vec_grow(apr_pool_t *p, vec_t *v)
{
  void *grown = apr_palloc(p, 2 * v->cap * v->size);
  memcpy(grown, v->elts, v->n * v->size);
  v->elts = grown;
  v->cap *= 2;
}

static void *vec_push(apr_pool_t *p, vec_t *v)
{
  if (v->n == v->cap)
    vec_grow(p, v);
  return (char *)v->elts + v->n++ * v->size;
}

/* The elements in pool memory; never NULL, even when there are none. */
static void *vec_keep(apr_pool_t *p, vec_t *v)
{
  if (v->elts != v->on_stack)
    return v->elts;
  void *kept = apr_palloc(p, (v->n ? v->n : 1) * v->size);
  memcpy(kept, v->elts, v->n * v->size);
  return kept;
}

#define STACK_PARAMS 8
#define STACK_INNER 8
#define STACK_MEMBERS 8

static int next_is(const cursor_t *c, int ch) { return c->at < c->end && *c->at == ch; }

static void skip_sp(cursor_t *c)
{
  while (c->at < c->end && *c->at == ' ')
    c->at++;
}

static void skip_ows(cursor_t *c)
{
  while (c->at < c->end && (*c->at == ' ' || *c->at == '\t'))
    c->at++;
}

/* 4.2.3.3 Parsing a Key */
static ta_status_t parse_key(cursor_t *c, const char **out)
{
  const unsigned char *start = c->at, *end = c->end, *k = start;
  if (k == end || !has_class(*k, CC_KEY_FIRST))
    return TA_E_SF_PARSE;
  if (text_holds_rest(c, start)) {
    char *key = c->text, *w = key;
    do
      *w++ = (char)*k++;
    while (k < end && has_class(*k, CC_KEY));
    *w++ = '\0';
    text_commit(c, (size_t)(w - key));
    *out = key;
  } else {
    for (k++; k < end && has_class(*k, CC_KEY); k++)
      ;
    *out = text_copy(c, start, (size_t)(k - start));
  }
  c->at = k;
  return TA_OK;
}

/* 4.2.4 Parsing an Integer or Decimal: at most 15 integer digits, or 12
 * integer and 1 to 3 fraction digits. */
static ta_status_t parse_number(cursor_t *c, ta_sf_bare_t *out)
{
  const unsigned char *s = c->at, *end = c->end;
  int negative = 0;
  if (s < end && *s == '-') {
    negative = 1;
    s++;
  }
  if (s == end || !is_digit(*s))
    return TA_E_SF_PARSE;
  /* Digit runs are scanned one past their maximum, so a digit too many
   * is seen without a count in the loop. */
  const unsigned char *int_digits = s;
  const unsigned char *int_stop = end - s > 16 ? s + 16 : end;
  int64_t int_part = 0;
  for (; s < int_stop && is_digit(*s); s++)
    int_part = int_part * 10 + (*s - '0');
  if (s - int_digits == 16)   /* a 16th integer digit */
    return TA_E_SF_PARSE;
  if (s == end || *s != '.') {
    c->at = s;
    out->type = TA_SF_INTEGER;
    out->v.integer = negative ? -int_part : int_part;
    return TA_OK;
  }
  if (s - int_digits > 12)
    return TA_E_SF_PARSE;
  const unsigned char *frac_digits = ++s;
  const unsigned char *frac_stop = end - s > 4 ? s + 4 : end;
  int64_t frac_part = 0;
  for (; s < frac_stop && is_digit(*s); s++)
    frac_part = frac_part * 10 + (*s - '0');
  if (s == frac_digits || s - frac_digits == 4)   /* "1." or a 4th fraction digit */
    return TA_E_SF_PARSE;
  for (ptrdiff_t k = s - frac_digits; k < 3; k++)
    frac_part *= 10;
  c->at = s;
  out->type = TA_SF_DECIMAL;
  out->v.decimal_milli = (negative ? -1 : 1) * (int_part * 1000 + frac_part);
  return TA_OK;
}

/* Bytes from s up to the closing DQUOTE (escapes skipped), or to the end
 * of the input when there is none: the value is never longer, and sizing
 * a buffer by this span (not by the rest of the input) keeps memory linear
 * in the input however many strings it holds. */
static size_t quoted_span(const unsigned char *s, const unsigned char *end, int with_escapes)
{
  const unsigned char *i = s;
  while (i < end && *i != '"') {
    if (with_escapes && *i == '\\' && i + 1 < end)
      i++;
    i++;
  }
  return (size_t)((i < end ? i : end) - s);
}

/* 4.2.5 Parsing a String. Runs of characters that need no unescaping are
 * checked, then copied whole: into the text block when the rest of the
 * input fits there (the value is never longer), else into a buffer sized
 * by the quoted span. */
static ta_status_t parse_string(cursor_t *c, ta_sf_bare_t *out)
{
  const unsigned char *s = c->at + 1, *end = c->end;   /* after DQUOTE */
  int in_block = text_holds_rest(c, s);
  char *buf = in_block ? c->text : text_alloc(c, quoted_span(s, end, 1) + 1);
  size_t n = 0;
  for (;;) {
    size_t run = class_run(s, (size_t)(end - s), CC_STRING);
    memcpy(buf + n, s, run);
    n += run;
    s += run;
    if (s == end)
      return TA_E_SF_PARSE;
    if (*s == '"')
      break;
    if (*s != '\\')   /* control character or not ASCII */
      return TA_E_SF_PARSE;
    s++;
    if (s == end || (*s != '"' && *s != '\\'))
      return TA_E_SF_PARSE;
    buf[n++] = (char)*s++;
  }
  buf[n] = '\0';
  if (in_block)
    text_commit(c, n + 1);
  out->type = TA_SF_STRING;
  out->v.str.ptr = buf;
  out->v.str.len = n;
  c->at = s + 1;
  return TA_OK;
}

/* 4.2.6 Parsing a Token */
static ta_status_t parse_token(cursor_t *c, ta_sf_bare_t *out)
{
  const unsigned char *start = c->at, *s = start;
  if (s == c->end || !has_class(*s, CC_TOKEN_FIRST))
    return TA_E_SF_PARSE;
  for (s++; s < c->end && has_class(*s, CC_TOKEN); s++)
    ;
  out->type = TA_SF_TOKEN;
  out->v.str.len = (size_t)(s - start);
  out->v.str.ptr = text_copy(c, start, (size_t)(s - start));
  c->at = s;
  return TA_OK;
}

/* Base64 decoding, table-driven: the signature is the longest byte sequence
 * a request carries (344 characters for RSA-2048). The table gives each
 * character's sextet, or B64_BAD outside the alphabet, so a group is four
 * lookups, one test of their OR, and shifts. One byte per entry keeps the
 * table to four cache lines, which the verification between requests
 * evicts. */
#define B64_BAD 0x40
#define B64_SEXTET(c)                                                                             \
  ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                         \
   : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                    \
   : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                    \
   : (c) == '+'               ? 62                                                                \
   : (c) == '/'               ? 63                                                                \
                              : B64_BAD)

#define B64_ENTRY(c) ((unsigned char)B64_SEXTET(c))   /* every value fits: 0-63 or B64_BAD */

static const unsigned char b64_sextet[256] = { REP_256(B64_ENTRY) };

/* 4.2.7 Parsing a Byte Sequence. Standard alphabet only; '=' only as
 * trailing padding that completes a 4-character group. As the RFC asks
 * (SHOULD NOT fail), absent padding and non-zero pad bits are accepted;
 * the serializer then emits the canonical form. The characters are
 * validated as they are decoded, a group at a time. */
static ta_status_t parse_bytes(cursor_t *c, ta_sf_bare_t *out)
{
  const unsigned char *in = c->at + 1;   /* after ':' */
  const unsigned char *close = memchr(in, ':', (size_t)(c->end - in));
  if (close == NULL)
    return TA_E_SF_PARSE;
  size_t n_data = (size_t)(close - in), n_pad = 0;
  while (n_data > 0 && n_pad < 2 && in[n_data - 1] == '=') {
    n_data--;
    n_pad++;
  }
  if (n_data % 4 == 1 || (n_pad > 0 && (n_data + n_pad) % 4 != 0))
    return TA_E_SF_PARSE;

  unsigned char *buf = (unsigned char *)text_alloc(c, n_data / 4 * 3 + 2 + 1), *w = buf;
  const unsigned char *g = in, *groups_end = in + n_data / 4 * 4;
  for (; g < groups_end; g += 4, w += 3) {
    uint32_t s0 = b64_sextet[g[0]], s1 = b64_sextet[g[1]], s2 = b64_sextet[g[2]], s3 = b64_sextet[g[3]];
    if ((s0 | s1 | s2 | s3) & B64_BAD)
      return TA_E_SF_PARSE;
    uint32_t group = s0 << 18 | s1 << 12 | s2 << 6 | s3;
    w[0] = (unsigned char)(group >> 16);
    w[1] = (unsigned char)(group >> 8);
    w[2] = (unsigned char)group;
  }
  /* The tail has 2 or 3 characters (1 was refused above); pad bits may be
   * non-zero and are dropped. */
  size_t tail = n_data % 4;
  if (tail > 0) {
    uint32_t s0 = b64_sextet[g[0]], s1 = b64_sextet[g[1]], s2 = tail == 3 ? b64_sextet[g[2]] : 0;
    if ((s0 | s1 | s2) & B64_BAD)
      return TA_E_SF_PARSE;
    uint32_t group = s0 << 18 | s1 << 12 | s2 << 6;
    *w++ = (unsigned char)(group >> 16);
    if (tail == 3)
      *w++ = (unsigned char)(group >> 8);
  }
  *w = '\0';
  c->at = close + 1;
  out->type = TA_SF_BYTES;
  out->v.str.ptr = (const char *)buf;
  out->v.str.len = (size_t)(w - buf);
  return TA_OK;
}

/* 4.2.8 Parsing a Boolean */
static ta_status_t parse_boolean(cursor_t *c, ta_sf_bare_t *out)
{
  c->at++;   /* '?' */
  if (!next_is(c, '0') && !next_is(c, '1'))
    return TA_E_SF_PARSE;
  out->type = TA_SF_BOOLEAN;
  out->v.boolean = *c->at++ == '1';
  return TA_OK;
}

/* RFC 9651 4.2.9 Parsing a Date */
static ta_status_t parse_date(cursor_t *c, ta_sf_bare_t *out)
{
  c->at++;   /* '@' */
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
  c->at++;   /* '%' */
  if (!next_is(c, '"'))
    return TA_E_SF_PARSE;
  const unsigned char *s = ++c->at, *end = c->end;
  unsigned char *buf = (unsigned char *)text_alloc(c, quoted_span(s, end, 0) + 1);
  size_t n = 0;
  for (;;) {
    if (s == end)
      return TA_E_SF_PARSE;
    int ch = *s++;
    if (ch < 0x20 || ch > 0x7E)
      return TA_E_SF_PARSE;
    if (ch == '%') {
      if (end - s < 2 || !has_class(s[0], CC_LCHEX) || !has_class(s[1], CC_LCHEX))
        return TA_E_SF_PARSE;
      buf[n++] = (unsigned char)(hex_value(s[0]) * 16 + hex_value(s[1]));
      s += 2;
    } else if (ch == '"') {
      if (!utf8_valid(buf, n))
        return TA_E_SF_PARSE;
      buf[n] = '\0';
      out->type = TA_SF_DISPLAY_STRING;
      out->v.str.ptr = (const char *)buf;
      out->v.str.len = n;
      c->at = s;
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
  if (c->at == c->end)
    return TA_E_SF_PARSE;
  int ch = *c->at;
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

/* Whether the input text [from, to) of a parsed parameter value is what
 * the serializer writes for it. Only the kinds a signature's parameters
 * use are recognised; the others are left to the serializer. */
static int value_text_is_canonical(const unsigned char *from, const unsigned char *to,
                                   const ta_sf_bare_t *v)
{
  switch (v->type) {
  case TA_SF_STRING:   /* only \" and \\ are escapes, and both are written escaped */
  case TA_SF_TOKEN:
    return 1;
  case TA_SF_INTEGER: {
    const unsigned char *d = from + (*from == '-');
    return !(d[0] == '0' && (to - d > 1 || d != from));   /* "007", "-0" */
  }
  case TA_SF_BOOLEAN:
    return v->v.boolean == 0;   /* "=?1" is written as the bare key */
  default:
    return 0;
  }
}

/* 4.2.3.2 Parsing Parameters. A repeated key overwrites the earlier value
 * in its original position (its slot is found before the value is parsed
 * into it). No parameters: items NULL, n 0. */
static ta_status_t parse_parameters(cursor_t *c, ta_sf_params_t *out)
{
  const unsigned char *start = c->at;
  int canonical = 1;
  out->items = NULL;
  out->n = 0;
  out->canonical = (const char *)start;
  out->canonical_len = 0;
  if (!next_is(c, ';'))
    return TA_OK;
  ta_sf_param_t stack_space[STACK_PARAMS];
  vec_t params;
  vec_init(&params, stack_space, STACK_PARAMS, sizeof(ta_sf_param_t));
  while (next_is(c, ';')) {
    c->at++;
    if (next_is(c, ' '))
      canonical = 0;
    skip_sp(c);
    const char *key;
    if (parse_key(c, &key) != TA_OK)
      return TA_E_SF_PARSE;
    ta_sf_param_t *items = params.elts, *slot = NULL;
    for (size_t i = 0; i < params.n; i++) {
      /* the first character settles most comparisons without a call */
      if (items[i].key[0] == key[0] && strcmp(items[i].key, key) == 0) {
        slot = &items[i];
        canonical = 0;
        break;
      }
    }
    if (slot == NULL) {
      if (params.n >= TA_SF_MAX_PARAMS)
        return TA_E_SF_PARSE;
      slot = vec_push(c->pool, &params);
      slot->key = key;
    }
    if (next_is(c, '=')) {
      const unsigned char *value = ++c->at;
      if (parse_bare_item(c, &slot->value) != TA_OK)
        return TA_E_SF_PARSE;
      if (canonical && !value_text_is_canonical(value, c->at, &slot->value))
        canonical = 0;
    } else {
      slot->value = bare_true();
    }
  }
  out->items = vec_keep(c->pool, &params);
  out->n = params.n;
  if (canonical)
    out->canonical_len = (size_t)(c->at - start);
  else
    out->canonical = NULL;
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
  ta_sf_item_t stack_space[STACK_INNER];
  vec_t items;
  vec_init(&items, stack_space, STACK_INNER, sizeof(ta_sf_item_t));
  c->at++;   /* '(' */
  for (;;) {
    skip_sp(c);
    if (c->at == c->end)
      return TA_E_SF_PARSE;
    if (*c->at == ')') {
      c->at++;
      out->is_inner_list = 1;
      out->inner = vec_keep(c->pool, &items);
      out->n_inner = items.n;
      return parse_parameters(c, &out->params);
    }
    if (items.n >= TA_SF_MAX_INNER)
      return TA_E_SF_PARSE;
    if (parse_item(c, vec_push(c->pool, &items)) != TA_OK)
      return TA_E_SF_PARSE;
    if (!next_is(c, ' ') && !next_is(c, ')'))
      return TA_E_SF_PARSE;
  }
}

/* 4.2.1.1 Parsing an Item or Inner List */
static ta_status_t parse_member(cursor_t *c, ta_sf_member_t *out)
{
  memset(out, 0, sizeof(*out));
  if (next_is(c, '('))
    return parse_inner_list(c, out);
  return parse_item(c, &out->item);
}

/* After a member: OWS, then end of input or a comma followed by another member. */
static ta_status_t after_member(cursor_t *c, int *done)
{
  skip_ows(c);
  if (c->at == c->end) {
    *done = 1;
    return TA_OK;
  }
  if (*c->at != ',')
    return TA_E_SF_PARSE;
  c->at++;
  skip_ows(c);
  if (c->at == c->end)   /* trailing comma */
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
  c->at = (const unsigned char *)(in ? in : "");
  c->end = c->at + len;
  c->text = apr_palloc(p, len + 1);
  c->text_left = len + 1;
  skip_sp(c);
  return TA_OK;
}

static ta_status_t finish(cursor_t *c)
{
  skip_sp(c);
  return c->at == c->end ? TA_OK : TA_E_SF_PARSE;
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
  ta_sf_member_t stack_space[STACK_MEMBERS];
  vec_t members;
  vec_init(&members, stack_space, STACK_MEMBERS, sizeof(ta_sf_member_t));
  int done = c.at == c.end;
  while (!done) {
    if (members.n >= TA_SF_MAX_MEMBERS)
      return TA_E_SF_PARSE;
    if (parse_member(&c, vec_push(p, &members)) != TA_OK || after_member(&c, &done) != TA_OK)
      return TA_E_SF_PARSE;
  }
  if (finish(&c) != TA_OK)
    return TA_E_SF_PARSE;
  out->members = vec_keep(p, &members);
  out->n = members.n;
  return TA_OK;
}

#define DICT_SCAN_MAX 8

/* 1 + the index of key among the dictionary's keys so far, 0 if absent. */
static uintptr_t dict_index_of(const vec_t *keys, apr_hash_t *index, const char *key)
{
  if (index != NULL)
    return (uintptr_t)apr_hash_get(index, key, APR_HASH_KEY_STRING);
  const char *const *known = keys->elts;
  for (size_t i = 0; i < keys->n; i++)
    if (known[i][0] == key[0] && strcmp(known[i], key) == 0)
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
  const char *key_space[STACK_MEMBERS];
  ta_sf_member_t member_space[STACK_MEMBERS];
  vec_t keys, members;
  vec_init(&keys, key_space, STACK_MEMBERS, sizeof(const char *));
  vec_init(&members, member_space, STACK_MEMBERS, sizeof(ta_sf_member_t));
  /* key -> 1 + index, so a repeated key overwrites in place in O(1);
   * built only once the dictionary outgrows a short linear scan (the
   * signature fields usually carry one member). */
  apr_hash_t *index = NULL;
  int done = c.at == c.end;
  while (!done) {
    const char *key;
    ta_sf_member_t member;
    if (parse_key(&c, &key) != TA_OK)
      return TA_E_SF_PARSE;
    if (next_is(&c, '=')) {
      c.at++;
      if (parse_member(&c, &member) != TA_OK)
        return TA_E_SF_PARSE;
    } else {
      memset(&member, 0, sizeof(member));
      member.item.bare = bare_true();
      if (parse_parameters(&c, &member.item.params) != TA_OK)
        return TA_E_SF_PARSE;
    }
    uintptr_t at = dict_index_of(&keys, index, key);
    if (at != 0) {
      ((ta_sf_member_t *)members.elts)[at - 1] = member;
    } else {
      if (members.n >= TA_SF_MAX_MEMBERS)
        return TA_E_SF_PARSE;
      *(const char **)vec_push(p, &keys) = key;
      *(ta_sf_member_t *)vec_push(p, &members) = member;
      if (index == NULL && members.n > DICT_SCAN_MAX) {
        const char *const *known = keys.elts;
        index = apr_hash_make(p);
        for (size_t i = 0; i < keys.n; i++)
          apr_hash_set(index, known[i], APR_HASH_KEY_STRING, (void *)(uintptr_t)(i + 1));
      } else if (index != NULL) {
        apr_hash_set(index, key, APR_HASH_KEY_STRING, (void *)(uintptr_t)members.n);
      }
    }
    if (after_member(&c, &done) != TA_OK)
      return TA_E_SF_PARSE;
  }
  if (finish(&c) != TA_OK)
    return TA_E_SF_PARSE;
  out->keys = vec_keep(p, &keys);
  out->members = vec_keep(p, &members);
  out->n = members.n;
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

/* Room for n more bytes at the end of the output (the caller then adds
 * what it wrote to len), or NULL once the output has failed. */
static inline char *out_room(out_t *o, size_t n)
{
  if (o->failed || (n > o->cap - o->len && !out_grow(o, n)))
    return NULL;
  return o->buf + o->len;
}

static inline void out_bytes(out_t *o, const char *s, size_t n)
{
  char *w = out_room(o, n);
  if (w == NULL)
    return;
  memcpy(w, s, n);
  o->len += n;
}

static void out_str(out_t *o, const char *s) { out_bytes(o, s, strlen(s)); }

static inline void out_char(out_t *o, char ch)
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

/* 4.1.4 Serializing an Integer (also the Date's seconds): two digits at a
 * time, in 32-bit arithmetic once the value fits (created and expires
 * have ten digits). */
static void ser_integer(out_t *o, int64_t v)
{
  static const char pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
  if (v < -TA_SF_MAX_INTEGER || v > TA_SF_MAX_INTEGER) {
    o->failed = 1;
    return;
  }
  char tmp[24];
  char *w = tmp + sizeof(tmp);
  uint64_t mag = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
  for (; mag > UINT32_MAX; mag /= 100) {
    w -= 2;
    memcpy(w, pairs + 2 * (mag % 100), 2);
  }
  uint32_t m = (uint32_t)mag;
  for (; m >= 100; m /= 100) {
    w -= 2;
    memcpy(w, pairs + 2 * (m % 100), 2);
  }
  if (m >= 10) {
    w -= 2;
    memcpy(w, pairs + 2 * m, 2);
  } else {
    *--w = (char)('0' + m);
  }
  if (v < 0)
    *--w = '-';
  out_bytes(o, w, (size_t)(tmp + sizeof(tmp) - w));
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

/* 4.1.6 Serializing a String: a string without escapes is copied whole;
 * otherwise runs between escapes are. */
static void ser_string(out_t *o, const char *s, size_t n)
{
  size_t plain = class_run((const unsigned char *)s, n, CC_STRING);
  if (plain == n) {
    char *w = out_room(o, n + 2);
    if (w == NULL)
      return;
    w[0] = '"';
    memcpy(w + 1, s, n);
    w[n + 1] = '"';
    o->len += n + 2;
    return;
  }
  out_char(o, '"');
  size_t run = 0;
  for (size_t i = plain; i < n; i++) {
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
  if (n == 0 || !has_class(s[0], CC_TOKEN_FIRST)) {
    o->failed = 1;
    return;
  }
  for (size_t i = 1; i < n; i++) {
    if (!has_class(s[i], CC_TOKEN)) {
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
  char *w = out_room(o, (n + 2) / 3 * 4 + 2);
  if (w == NULL)
    return;
  char *start = w;
  *w++ = ':';
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t group = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *w++ = alphabet[group >> 18];
    *w++ = alphabet[(group >> 12) & 63];
    *w++ = alphabet[(group >> 6) & 63];
    *w++ = alphabet[group & 63];
  }
  if (i < n) {
    uint32_t group = (uint32_t)s[i] << 16;
    if (i + 1 < n)
      group |= (uint32_t)s[i + 1] << 8;
    *w++ = alphabet[group >> 18];
    *w++ = alphabet[(group >> 12) & 63];
    *w++ = i + 1 < n ? alphabet[(group >> 6) & 63] : '=';
    *w++ = '=';
  }
  *w++ = ':';
  o->len += (size_t)(w - start);
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
      out_bytes(o, b->v.boolean ? "?1" : "?0", 2);
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

/* 4.1.1.3 Serializing a Key: the length of a valid key, 0 for anything
 * else (validated and measured in one scan). */
static size_t key_length(const char *key)
{
  if (key == NULL || !has_class(key[0], CC_KEY_FIRST))
    return 0;
  size_t n = 1;
  while (has_class(key[n], CC_KEY))
    n++;
  return key[n] == '\0' ? n : 0;
}

static void ser_key(out_t *o, const char *key)
{
  size_t n = key_length(key);
  if (n == 0)
    o->failed = 1;
  else
    out_bytes(o, key, n);
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
    /* ";key" and "=" when a value follows, appended at once */
    size_t n = key_length(params->items[i].key);
    int has_value = !is_bare_true(&params->items[i].value);
    char *w = n == 0 ? NULL : out_room(o, n + 2);
    if (w == NULL) {
      o->failed = 1;
      return;
    }
    w[0] = ';';
    memcpy(w + 1, params->items[i].key, n);
    w[n + 1] = '=';
    o->len += n + 1 + (size_t)has_value;
    if (has_value)
      ser_bare(o, &params->items[i].value);
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
      out_bytes(&o, ", ", 2);
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
      out_bytes(&o, ", ", 2);
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

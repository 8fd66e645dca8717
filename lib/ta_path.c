#include "ta_path.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

struct ta_path_set {
  const char **prefixes;     /* normalised, sorted, unique, no trailing '/' except "/" */
  size_t *lens;
  size_t n;
  int allows_all;            /* "/" present */
  const char **raw;          /* as written, for the Seraph-compat raw mode */
  size_t n_raw;
};

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* How a byte appears in the canonical form. LITERAL: written as itself
 * (unreserved, and the pchar sub-delims except ';', which would read as a
 * segment parameter). ESCAPED: written as upper-case %XX. 0: refused
 * (controls, DEL, '\\', and '/' when it comes from a decoded escape). */
enum { BYTE_REFUSED = 0, BYTE_LITERAL = 1, BYTE_ESCAPED = 2 };

static const unsigned char byte_form[256] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  2, 1, 2, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 2, 2, 1,
  2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 0,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static int is_literal(unsigned char c)
{
  return byte_form[c] == BYTE_LITERAL;
}

static int is_forbidden_byte(unsigned char c)
{
  return c < 0x20 || c == 0x7f || c == '\\';
}

static int upper_hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* 1 when path is exactly what normalize_general would return for it, so it
 * can be used as is: within TA_PATH_MAX_INPUT, starts with '/', segments
 * made of literal bytes and upper-case escapes of bytes that are not
 * literal (and not refused), no empty segment except a trailing one, no
 * "." or ".." segment. Reads at most TA_PATH_MAX_INPUT + 3 bytes. */
static int is_canonical(const char *path)
{
  const unsigned char *s = (const unsigned char *)path;
  if (s[0] != '/')
    return 0;
  size_t seg_start = 1, i = 1;
  for (;;) {
    if (i > TA_PATH_MAX_INPUT)
      return 0;
    unsigned char c = s[i];
    if (byte_form[c] == BYTE_LITERAL) {
      i++;
      continue;
    }
    if (c == '/' || c == '\0') {
      size_t seg_len = i - seg_start;
      if (seg_len == 0 && c == '/')
        return 0; /* "//" collapses */
      if (seg_len > 0 && seg_len <= 2 && s[seg_start] == '.' && s[i - 1] == '.')
        return 0; /* "." or ".." */
      if (c == '\0')
        return 1;
      seg_start = ++i;
      continue;
    }
    if (c != '%')
      return 0;
    int hi = upper_hexval(s[i + 1]);
    int lo = hi >= 0 ? upper_hexval(s[i + 2]) : -1;
    if (lo < 0 || byte_form[hi * 16 + lo] != BYTE_ESCAPED)
      return 0;
    i += 3;
  }
}

typedef struct {
  size_t start, len;         /* in the output buffer */
} seg_t;

/* The full algorithm: decode, refuse, re-encode, resolve dot segments. */
static ta_status_t normalize_general(apr_pool_t *p, const char *raw_path, const char **out)
{
  static const char hex[] = "0123456789ABCDEF";
  if (raw_path == NULL || raw_path[0] != '/')
    return TA_E_PATH_NOT_ALLOWED;
  size_t raw_len = strnlen(raw_path, TA_PATH_MAX_INPUT + 1);
  if (raw_len > TA_PATH_MAX_INPUT)
    return TA_E_PATH_NOT_ALLOWED;

  /* Each input byte expands to at most 3 output bytes. */
  char *buf = apr_palloc(p, raw_len * 3 + 2);
  seg_t *stack = apr_palloc(p, (raw_len / 2 + 1) * sizeof(seg_t));
  size_t depth = 0, used = 0;
  int trailing_slash = 0;

  size_t i = 1;
  for (;;) {
    size_t j = i;
    while (j < raw_len && raw_path[j] != '/')
      j++;
    int last = (j >= raw_len);
    size_t seg_end = j;
    const char *semi = memchr(raw_path + i, ';', j - i);
    if (semi)
      seg_end = (size_t)(semi - raw_path);

    /* Decode exactly once into buf at used, re-encoding what is not literal. */
    size_t seg_start = used;
    size_t decoded_len = 0;
    int only_dots = 1;
    for (size_t k = i; k < seg_end; k++) {
      unsigned char c = (unsigned char)raw_path[k];
      if (c == '%') {
        int hi = k + 2 < seg_end ? hexval((unsigned char)raw_path[k + 1]) : -1;
        int lo = hi >= 0 ? hexval((unsigned char)raw_path[k + 2]) : -1;
        if (hi < 0 || lo < 0)
          return TA_E_PATH_NOT_ALLOWED;
        c = (unsigned char)(hi * 16 + lo);
        k += 2;
        if (c == '/' || c == '\0')
          return TA_E_PATH_NOT_ALLOWED;
      }
      if (is_forbidden_byte(c))
        return TA_E_PATH_NOT_ALLOWED;
      if (c != '.')
        only_dots = 0;
      decoded_len++;
      if (is_literal(c)) {
        buf[used++] = (char)c;
      } else {
        buf[used++] = '%';
        buf[used++] = hex[c >> 4];
        buf[used++] = hex[c & 15];
      }
    }

    if (decoded_len == 0 || (only_dots && decoded_len == 1)) {
      used = seg_start; /* empty or '.': dropped */
      trailing_slash = last;
    } else if (only_dots && decoded_len == 2) {
      if (depth == 0)
        return TA_E_PATH_NOT_ALLOWED; /* above the root */
      depth--;
      used = stack[depth].start;
      trailing_slash = last;
    } else {
      stack[depth].start = seg_start;
      stack[depth].len = used - seg_start;
      depth++;
      trailing_slash = 0;
    }
    if (last)
      break;
    i = j + 1;
  }

  /* Segments are contiguous in buf (a pop rewinds used), so join in place. */
  char *res = apr_palloc(p, used + depth + 2);
  size_t n = 0;
  for (size_t d = 0; d < depth; d++) {
    res[n++] = '/';
    memcpy(res + n, buf + stack[d].start, stack[d].len);
    n += stack[d].len;
  }
  if (n == 0 || trailing_slash)
    res[n++] = '/';
  res[n] = '\0';
  *out = res;
  return TA_OK;
}

ta_status_t ta_path_normalize(apr_pool_t *p, const char *raw_path, const char **out)
{
  if (raw_path == NULL || raw_path[0] != '/')
    return TA_E_PATH_NOT_ALLOWED;
  /* Most request paths are already canonical: no copy, no allocation. */
  if (is_canonical(raw_path)) {
    *out = raw_path;
    return TA_OK;
  }
  return normalize_general(p, raw_path, out);
}

static int cmp_len(const char *a, size_t alen, const char *b, size_t blen)
{
  size_t m = alen < blen ? alen : blen;
  int c = memcmp(a, b, m);
  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int cmp_strp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

ta_status_t ta_path_set_parse(apr_pool_t *p, const char *const *prefixes, size_t n,
                              ta_path_set_t **out, const char **err)
{
  ta_path_set_t *s = apr_pcalloc(p, sizeof(*s));
  s->prefixes = apr_pcalloc(p, (n + 1) * sizeof(char *));
  s->lens = apr_pcalloc(p, (n + 1) * sizeof(size_t));
  s->raw = apr_pcalloc(p, (n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const char *norm = NULL;
    if (prefixes[i] == NULL || ta_path_normalize(p, prefixes[i], &norm) != TA_OK) {
      if (err)
        *err = apr_psprintf(p, "invalid path prefix '%s' (must start with '/', no "
                            "'..' above the root, no encoded '/', '\\' or control characters)",
                            prefixes[i] ? prefixes[i] : "(null)");
      return TA_E_CONFIG;
    }
    /* The set outlives the caller's strings, and normalisation may have
     * returned prefixes[i] itself. */
    size_t len = strlen(norm);
    if (len > 1 && norm[len - 1] == '/')
      norm = apr_pstrmemdup(p, norm, len - 1);
    else if (norm == prefixes[i])
      norm = apr_pstrmemdup(p, norm, len);
    if (strcmp(norm, "/") == 0)
      s->allows_all = 1;
    s->prefixes[i] = norm;
    s->raw[i] = apr_pstrdup(p, prefixes[i]);
  }
  s->n_raw = n;
  qsort(s->prefixes, n, sizeof(char *), cmp_strp);
  size_t w = 0;
  for (size_t r = 0; r < n; r++) {
    if (w > 0 && strcmp(s->prefixes[w - 1], s->prefixes[r]) == 0)
      continue;
    s->prefixes[w] = s->prefixes[r];
    s->lens[w] = strlen(s->prefixes[r]);
    w++;
  }
  s->n = w;
  *out = s;
  return TA_OK;
}

static int contains_prefix(const ta_path_set_t *s, const char *path, size_t len)
{
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_len(s->prefixes[mid], s->lens[mid], path, len);
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

int ta_path_set_match(const ta_path_set_t *s, const char *normalized_path)
{
  if (s == NULL || normalized_path == NULL || normalized_path[0] != '/')
    return 0;
  if (s->allows_all)
    return 1;
  /* Every segment-boundary prefix of the path is looked up once. */
  size_t len = strlen(normalized_path);
  for (size_t k = 1; k <= len; k++) {
    if ((k == len || normalized_path[k] == '/') && contains_prefix(s, normalized_path, k))
      return 1;
  }
  return 0;
}

int ta_path_set_match_raw(const ta_path_set_t *s, const char *raw_path)
{
  if (s == NULL || raw_path == NULL)
    return 0;
  for (size_t i = 0; i < s->n_raw; i++)
    if (strncmp(raw_path, s->raw[i], strlen(s->raw[i])) == 0)
      return 1;
  return 0;
}

size_t ta_path_set_count(const ta_path_set_t *s)
{
  return s ? s->n_raw : 0;
}

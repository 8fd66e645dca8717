#include "ta_msg.h"

#include <stdint.h>
#include <string.h>
#include <apr_strings.h>

ta_msg_t *ta_msg_make_sized(apr_pool_t *p, int n_fields)
{
  ta_msg_t *m = apr_pcalloc(p, sizeof(*m));
  m->fields = apr_array_make(p, n_fields > 0 ? n_fields : 1, sizeof(ta_field_t));
  return m;
}

ta_msg_t *ta_msg_make(apr_pool_t *p)
{
  return ta_msg_make_sized(p, 16);
}

void ta_msg_add_field(ta_msg_t *m, const char *name, const char *value)
{
  ta_field_t *f = apr_array_push(m->fields);
  f->name = name;
  f->value = value;
}

static inline unsigned char ascii_lower(unsigned char c)
{
  return (unsigned char)((unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
}

/* Eight bytes equal but for the case of ASCII letters: every differing bit
 * is 0x20 in a byte that is a letter. */
static inline int word_caseeq(uint64_t a, uint64_t b)
{
  static const uint64_t ones = UINT64_C(0x0101010101010101);
  static const uint64_t highs = UINT64_C(0x8080808080808080);
  uint64_t diff = a ^ b;
  if (diff == 0)
    return 1;
  uint64_t folded = (a | ones * 0x20) & ones * 0x7f; /* no carries between bytes below */
  uint64_t letters = (folded + ones * (0x80 - 'a')) & ~(folded + ones * (0x80 - 'z' - 1)) & ~a & highs;
  return (diff & ~(letters >> 2)) == 0;
}

/* ASCII case-insensitive equality of two strings of length n. */
static int caseeq_n(const char *a, const char *b, size_t n)
{
  uint64_t wa, wb;
  if (n < sizeof(wa)) {
    for (size_t i = 0; i < n; i++)
      if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
        return 0;
    return 1;
  }
  size_t i = 0;
  for (; i + sizeof(wa) <= n; i += sizeof(wa)) {
    memcpy(&wa, a + i, sizeof(wa));
    memcpy(&wb, b + i, sizeof(wb));
    if (!word_caseeq(wa, wb))
      return 0;
  }
  if (i < n) { /* the last eight bytes, overlapping */
    memcpy(&wa, a + n - sizeof(wa), sizeof(wa));
    memcpy(&wb, b + n - sizeof(wb), sizeof(wb));
    return word_caseeq(wa, wb);
  }
  return 1;
}

/* name equals want (of length want_len), ASCII case-insensitively (like
 * apr_cstr_casecmp). Every lookup walks all field lines: most names are
 * refused by their first byte, then by their length. */
static inline int name_eq(const char *name, const char *want, size_t want_len)
{
  if ((name[0] ^ want[0]) & ~0x20) /* case differs in bit 0x20 only */
    return 0;
  return strlen(name) == want_len && caseeq_n(name, want, want_len);
}

int ta_msg_name_eq(const char *a, const char *b)
{
  return name_eq(a, b, strlen(b));
}

const char *ta_msg_field_lines(apr_pool_t *p, const ta_msg_t *m, const char *name, int *count)
{
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  int nelts = m->fields->nelts, n = 0, first = -1;
  size_t name_len = strlen(name);
  for (int i = 0; i < nelts; i++) {
    if (name_eq(f[i].name, name, name_len) && n++ == 0)
      first = i;
  }
  if (count)
    *count = n;
  if (n <= 1)
    return n ? f[first].value : NULL;
  /* RFC 9110 5.3: lines of one field are combined with ", " */
  size_t total = 0;
  for (int i = first; i < nelts; i++)
    if (name_eq(f[i].name, name, name_len))
      total += strlen(f[i].value) + 2;
  char *joined = apr_palloc(p, total + 1), *w = joined;
  for (int i = first; i < nelts; i++) {
    if (!name_eq(f[i].name, name, name_len))
      continue;
    if (i != first) {
      *w++ = ',';
      *w++ = ' ';
    }
    size_t len = strlen(f[i].value);
    memcpy(w, f[i].value, len);
    w += len;
  }
  *w = '\0';
  return joined;
}

const char *ta_msg_field(apr_pool_t *p, const ta_msg_t *m, const char *name)
{
  return ta_msg_field_lines(p, m, name, NULL);
}

int ta_msg_has_field(const ta_msg_t *m, const char *name)
{
  size_t name_len = strlen(name);
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    if (name_eq(f[i].name, name, name_len))
      return 1;
  return 0;
}

int ta_msg_field_count(const ta_msg_t *m, const char *name)
{
  int n = 0;
  size_t name_len = strlen(name);
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    n += name_eq(f[i].name, name, name_len);
  return n;
}

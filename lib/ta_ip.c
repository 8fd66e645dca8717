#include "ta_ip.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* One network: address bytes already masked to len bits. IPv4 uses the
 * first 4 bytes. */
typedef struct {
  unsigned char addr[16];
  unsigned len;
} ta_ip_net_t;

/* The run of nets sharing one prefix length. */
typedef struct {
  unsigned len;
  size_t start, count;
} ta_ip_group_t;

/* Networks of one family sorted by (len, addr); groups[] lists the distinct
 * prefix lengths present, so a lookup is one binary search per length.
 * Sized by what is present: a registry holds one set per app. */
typedef struct {
  ta_ip_net_t *nets;
  size_t n;
  ta_ip_group_t *groups;
  size_t n_groups;
} ta_ip_family_t;

struct ta_ip_set {
  ta_ip_family_t v4, v6;
  size_t count;
};

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Strict dotted quad: 4 decimal parts 0-255, no leading zeros, no signs or
 * spaces. With allow_wildcard, trailing whole parts may be '*'; *n_fixed
 * receives the count of numeric parts. */
static int parse_v4_parts(const char *s, size_t slen, int allow_wildcard,
                          unsigned char out[4], unsigned *n_fixed)
{
  size_t i = 0;
  unsigned fixed = 0;
  int seen_wild = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= slen || s[i] != '.')
        return 0;
      i++;
    }
    if (i < slen && s[i] == '*') {
      if (!allow_wildcard)
        return 0;
      seen_wild = 1;
      out[part] = 0;
      i++;
      continue;
    }
    if (seen_wild)
      return 0; /* a number after '*': wildcards must be trailing */
    size_t start = i;
    unsigned v = 0;
    while (i < slen && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      v = v * 10 + (unsigned)(s[i] - '0');
      i++;
    }
    size_t digits = i - start;
    if (digits == 0 || v > 255 || (digits > 1 && s[start] == '0'))
      return 0;
    out[part] = (unsigned char)v;
    fixed++;
  }
  if (i != slen)
    return 0;
  if (n_fixed)
    *n_fixed = fixed;
  return 1;
}

/* IPv6 text (no zone, no brackets) via inet_pton, which is strict enough
 * about syntax; the length bound keeps hostile input cheap. */
static int parse_v6(const char *s, size_t slen, unsigned char out[16])
{
  char buf[TA_IP_MAX_TEXT];
  if (slen == 0 || slen >= sizeof(buf) || memchr(s, ':', slen) == NULL)
    return 0;
  memcpy(buf, s, slen);
  buf[slen] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1;
}

static int is_v4_mapped(const unsigned char a[16])
{
  return memcmp(a, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

static void mask_bytes(unsigned char *a, size_t bytes, unsigned len)
{
  for (size_t i = 0; i < bytes; i++) {
    unsigned bit = (unsigned)i * 8;
    if (bit >= len)
      a[i] = 0;
    else if (len - bit < 8)
      a[i] &= (unsigned char)(0xffu << (8 - (len - bit)));
  }
}

/* Decimal prefix length 0..max, no leading zeros. */
static int parse_prefix_len(const char *s, unsigned max, unsigned *out)
{
  size_t n = strlen(s);
  if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
    return 0;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > max)
    return 0;
  *out = v;
  return 1;
}

/* One pattern into a network; *is_v6 tells the family after folding
 * IPv4-mapped IPv6 networks (::ffff:a.b.c.d/len >= 96) into IPv4. */
static int parse_pattern(const char *pat, ta_ip_net_t *net, int *is_v6)
{
  size_t plen = strlen(pat);
  if (plen == 0 || plen >= TA_IP_MAX_TEXT)
    return 0;
  memset(net, 0, sizeof(*net));
  const char *slash = strchr(pat, '/');
  size_t addr_len = slash ? (size_t)(slash - pat) : plen;

  if (memchr(pat, ':', addr_len)) {
    unsigned len = 128;
    if (!parse_v6(pat, addr_len, net->addr))
      return 0;
    if (slash && !parse_prefix_len(slash + 1, 128, &len))
      return 0;
    if (is_v4_mapped(net->addr) && len >= 96) {
      memmove(net->addr, net->addr + 12, 4);
      memset(net->addr + 4, 0, 12);
      net->len = len - 96;
      mask_bytes(net->addr, 4, net->len);
      *is_v6 = 0;
      return 1;
    }
    net->len = len;
    mask_bytes(net->addr, 16, len);
    *is_v6 = 1;
    return 1;
  }

  unsigned fixed = 0;
  if (!parse_v4_parts(pat, addr_len, slash == NULL, net->addr, &fixed))
    return 0;
  unsigned len = fixed * 8;
  if (slash && !parse_prefix_len(slash + 1, 32, &len))
    return 0;
  net->len = len;
  mask_bytes(net->addr, 4, len);
  *is_v6 = 0;
  return 1;
}

static int net_cmp(const void *a, const void *b)
{
  const ta_ip_net_t *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return memcmp(x->addr, y->addr, sizeof(x->addr)); /* IPv4 nets are zero past byte 4 */
}

/* Sorts, drops duplicates, and indexes the distinct prefix lengths. */
static void family_build(apr_pool_t *p, ta_ip_family_t *f)
{
  f->n_groups = 0;
  if (f->n == 0)
    return;
  qsort(f->nets, f->n, sizeof(*f->nets), net_cmp);
  size_t w = 0;
  for (size_t r = 0; r < f->n; r++) {
    if (w > 0 && net_cmp(&f->nets[w - 1], &f->nets[r]) == 0)
      continue;
    f->nets[w++] = f->nets[r];
  }
  f->n = w;
  size_t distinct = 0;
  for (size_t i = 0; i < f->n; i++)
    if (i == 0 || f->nets[i - 1].len != f->nets[i].len)
      distinct++;
  f->groups = apr_palloc(p, distinct * sizeof(*f->groups));
  for (size_t i = 0; i < f->n; i++) {
    if (f->n_groups == 0 || f->groups[f->n_groups - 1].len != f->nets[i].len) {
      ta_ip_group_t *g = &f->groups[f->n_groups++];
      g->len = f->nets[i].len;
      g->start = i;
      g->count = 0;
    }
    f->groups[f->n_groups - 1].count++;
  }
}

ta_status_t ta_ip_set_parse(apr_pool_t *p, const char *const *patterns, size_t n,
                            ta_ip_set_t **out, const char **err)
{
  ta_ip_set_t *s = apr_pcalloc(p, sizeof(*s));
  if (n > 0) {
    s->v4.nets = apr_pcalloc(p, n * sizeof(ta_ip_net_t));
    s->v6.nets = apr_pcalloc(p, n * sizeof(ta_ip_net_t));
  }
  for (size_t i = 0; i < n; i++) {
    ta_ip_net_t net;
    int is_v6 = 0;
    if (patterns[i] == NULL || !parse_pattern(patterns[i], &net, &is_v6)) {
      if (err)
        *err = apr_psprintf(p, "invalid IP pattern '%s' (use an address, CIDR, or "
                            "trailing wildcards like 192.168.*.*; for any use 0.0.0.0/0 and ::/0)",
                            patterns[i] ? patterns[i] : "(null)");
      return TA_E_CONFIG;
    }
    ta_ip_family_t *f = is_v6 ? &s->v6 : &s->v4;
    f->nets[f->n++] = net;
  }
  family_build(p, &s->v4);
  family_build(p, &s->v6);
  s->count = n;
  *out = s;
  return TA_OK;
}

static uint32_t load_be32(const unsigned char *a)
{
  return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | (uint32_t)a[3];
}

/* IPv4 nets compare as big-endian integers: the same order as memcmp of
 * their bytes, the order family_build sorted them in. */
static int v4_match(const ta_ip_family_t *f, const unsigned char *addr)
{
  uint32_t a = load_be32(addr);
  for (size_t gi = 0; gi < f->n_groups; gi++) {
    const ta_ip_group_t *g = &f->groups[gi];
    uint32_t key = g->len == 0 ? 0 : a & (0xffffffffu << (32 - g->len));
    size_t lo = g->start, hi = lo + g->count;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      uint32_t net = load_be32(f->nets[mid].addr);
      if (net == key)
        return 1;
      if (net < key)
        lo = mid + 1;
      else
        hi = mid;
    }
  }
  return 0;
}

static int v6_match(const ta_ip_family_t *f, const unsigned char *addr)
{
  for (size_t gi = 0; gi < f->n_groups; gi++) {
    const ta_ip_group_t *g = &f->groups[gi];
    unsigned char key[16] = {0};
    size_t whole = g->len / 8;
    memcpy(key, addr, whole);
    if (g->len % 8)
      key[whole] = addr[whole] & (unsigned char)(0xffu << (8 - g->len % 8));
    size_t lo = g->start, hi = lo + g->count;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int c = memcmp(f->nets[mid].addr, key, sizeof(key));
      if (c == 0)
        return 1;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  }
  return 0;
}

/* Strict dotted quad read straight from the NUL-terminated text: the
 * grammar of parse_v4_parts without wildcards (4 decimal parts 0-255, no
 * leading zeros), in one pass with no length scan first. */
static int parse_dotted_quad(const char *text, unsigned char out[4])
{
  const unsigned char *u = (const unsigned char *)text;
  for (int part = 0; part < 4; part++) {
    if (part > 0 && *u++ != '.')
      return 0;
    unsigned v = (unsigned)u[0] - '0';
    if (v > 9)
      return 0;
    u++;
    if (v != 0) { /* a leading '0' stands alone */
      unsigned d = (unsigned)u[0] - '0';
      if (d <= 9) {
        v = v * 10 + d;
        u++;
        d = (unsigned)u[0] - '0';
        if (d <= 9) {
          v = v * 10 + d;
          u++;
          if (v > 255)
            return 0;
        }
      }
    }
    out[part] = (unsigned char)v;
  }
  return *u == '\0';
}

/* Parses an address for matching: 1 = IPv4 (4 bytes), 2 = IPv6, 0 = bad.
 * A text that is not a dotted quad is IPv6 or nothing: without a ':' the
 * dotted-quad grammar was the only one it could match. */
static int parse_address(const char *ip, unsigned char out[16])
{
  if (ip == NULL)
    return 0;
  if (parse_dotted_quad(ip, out))
    return 1;
  size_t len = strnlen(ip, TA_IP_MAX_TEXT);
  if (len == 0 || len >= TA_IP_MAX_TEXT || memchr(ip, ':', len) == NULL)
    return 0;
  if (!parse_v6(ip, len, out))
    return 0;
  if (is_v4_mapped(out)) {
    memmove(out, out + 12, 4);
    return 1;
  }
  return 2;
}

int ta_ip_set_match(const ta_ip_set_t *s, const char *ip)
{
  unsigned char addr[16];
  if (s == NULL)
    return 0;
  switch (parse_address(ip, addr)) {
  case 1: return v4_match(&s->v4, addr);
  case 2: return v6_match(&s->v6, addr);
  default: return 0;
  }
}

size_t ta_ip_set_count(const ta_ip_set_t *s)
{
  return s ? s->count : 0;
}

int ta_ip_is_valid(const char *ip)
{
  unsigned char addr[16];
  return parse_address(ip, addr) != 0;
}

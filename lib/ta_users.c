#include "ta_users.h"

#include <stdlib.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_strings.h>

/* A list of entries: exact names (sorted, binary search) and prefix
 * wildcards (sorted by prefix; each length of the user is looked up). */
typedef struct {
  const char **exact;
  size_t n_exact;
  const char **prefix;       /* without the trailing '*' */
  size_t n_prefix;
  int any;                   /* "*" */
} ta_user_list_t;

struct ta_user_rules {
  ta_user_list_t allow, deny;
};

static const char *const builtin_denied[] = {"root", "admin", "administrator"};

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without C0/C1
 * controls or DEL. */
static int valid_name(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned c = u[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f)
        return 0;
      i++;
      continue;
    }
    size_t n;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3; cp = c & 0x07; min = 0x10000;
    } else {
      return 0;
    }
    if (i + n >= len)
      return 0;
    for (size_t k = 1; k <= n; k++) {
      if ((u[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (u[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
      return 0;
    i += n + 1;
  }
  return 1;
}

static int cmp_strp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static ta_status_t list_parse(apr_pool_t *p, const char *const *entries, size_t n,
                              const char *what, ta_user_list_t *l, const char **err)
{
  l->exact = apr_pcalloc(p, (n + 1) * sizeof(char *));
  l->prefix = apr_pcalloc(p, (n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const char *e = entries[i];
    size_t len = e ? strlen(e) : 0;
    const char *star = e ? strchr(e, '*') : NULL;
    if (len == 0 || len > TA_USER_MAX_LEN || !valid_name(e, len) || (star && star != e + len - 1)) {
      if (err)
        *err = apr_psprintf(p, "invalid user %s entry '%s' (a name, or a prefix ending in '*')",
                            what, e ? e : "(null)");
      return TA_E_CONFIG;
    }
    if (len == 1 && star)
      l->any = 1;
    else if (star)
      l->prefix[l->n_prefix++] = apr_pstrmemdup(p, e, len - 1);
    else
      l->exact[l->n_exact++] = apr_pstrdup(p, e);
  }
  qsort(l->exact, l->n_exact, sizeof(char *), cmp_strp);
  qsort(l->prefix, l->n_prefix, sizeof(char *), cmp_strp);
  return TA_OK;
}

ta_status_t ta_user_rules_parse(apr_pool_t *p, const char *const *allow, size_t n_allow,
                                const char *const *deny, size_t n_deny,
                                ta_user_rules_t **out, const char **err)
{
  ta_user_rules_t *r = apr_pcalloc(p, sizeof(*r));
  ta_status_t rv = list_parse(p, allow, n_allow, "allow", &r->allow, err);
  if (rv == TA_OK)
    rv = list_parse(p, deny, n_deny, "deny", &r->deny, err);
  if (rv != TA_OK)
    return rv;
  *out = r;
  return TA_OK;
}

/* Binary search of key[0..len) among sorted NUL-terminated strings. */
static int sorted_contains(const char *const *v, size_t n, const char *key, size_t len)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strncmp(v[mid], key, len);
    if (c == 0 && v[mid][len] != '\0')
      c = 1;
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

static int list_is_exact(const ta_user_list_t *l, const char *user, size_t len)
{
  return sorted_contains(l->exact, l->n_exact, user, len);
}

static int list_matches(const ta_user_list_t *l, const char *user, size_t len)
{
  if (l->any || list_is_exact(l, user, len))
    return 1;
  if (l->n_prefix == 0)
    return 0;
  for (size_t k = 0; k <= len; k++)
    if (sorted_contains(l->prefix, l->n_prefix, user, k))
      return 1;
  return 0;
}

ta_status_t ta_user_check(const ta_user_rules_t *rules, const char *user)
{
  if (user == NULL)
    return TA_E_USER_INVALID;
  size_t len = strnlen(user, TA_USER_MAX_LEN + 1);
  if (len == 0 || len > TA_USER_MAX_LEN || !valid_name(user, len))
    return TA_E_USER_INVALID;

  if (rules && list_matches(&rules->deny, user, len))
    return TA_E_USER_DENIED;
  for (size_t i = 0; i < sizeof(builtin_denied) / sizeof(builtin_denied[0]); i++) {
    if (apr_cstr_casecmp(user, builtin_denied[i]) == 0
        && !(rules && list_is_exact(&rules->allow, user, len)))
      return TA_E_USER_DENIED;
  }
  if (rules == NULL || (rules->allow.n_exact == 0 && rules->allow.n_prefix == 0 && !rules->allow.any))
    return TA_OK;
  return list_matches(&rules->allow, user, len) ? TA_OK : TA_E_USER_DENIED;
}

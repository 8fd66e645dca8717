#include "ta_msg.h"

#include <apr_cstr.h>
#include <apr_strings.h>

ta_msg_t *ta_msg_make(apr_pool_t *p)
{
  ta_msg_t *m = apr_pcalloc(p, sizeof(*m));
  m->fields = apr_array_make(p, 16, sizeof(ta_field_t));
  return m;
}

void ta_msg_add_field(ta_msg_t *m, const char *name, const char *value)
{
  ta_field_t *f = apr_array_push(m->fields);
  f->name = name;
  f->value = value;
}

const char *ta_msg_field(apr_pool_t *p, const ta_msg_t *m, const char *name)
{
  const char *joined = NULL;
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++) {
    if (apr_cstr_casecmp(f[i].name, name) != 0)
      continue;
    joined = joined ? apr_pstrcat(p, joined, ", ", f[i].value, NULL) : f[i].value;
  }
  return joined;
}

int ta_msg_field_count(const ta_msg_t *m, const char *name)
{
  int n = 0;
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  for (int i = 0; i < m->fields->nelts; i++)
    if (apr_cstr_casecmp(f[i].name, name) == 0)
      n++;
  return n;
}

/* libFuzzer target for IP patterns and address matching. Input: lines;
 * the first line is an address, the others are patterns. Invariants: a
 * valid address matches a set holding exactly itself and the any-address
 * set; an invalid one matches nothing; a parsed set never crashes on the
 * address, and the answer does not depend on the order of the patterns. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_ip.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;
static const ta_ip_set_t *any_set;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
    abort();
  const char *any[] = {"0.0.0.0/0", "::/0"};
  ta_ip_set_t *s = NULL;
  if (ta_ip_set_parse(root, any, 2, &s, NULL) != TA_OK)
    abort();
  any_set = s;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  apr_pool_t *p;
  apr_pool_create(&p, root);
  char *text = apr_pstrmemdup(p, (const char *)data, size);
  const char **lines = apr_pcalloc(p, (size + 2) * sizeof(char *));
  size_t n = 0;
  char *last = NULL;
  for (char *t = apr_strtok(text, "\n", &last); t; t = apr_strtok(NULL, "\n", &last))
    lines[n++] = t;
  if (n == 0) {
    apr_pool_destroy(p);
    return 0;
  }
  const char *addr = lines[0];
  int valid = ta_ip_is_valid(addr);

  ta_ip_set_t *self = NULL;
  if (ta_ip_set_parse(p, &addr, 1, &self, NULL) == TA_OK && valid && !ta_ip_set_match(self, addr))
    abort(); /* an exact address pattern must match itself */
  if (ta_ip_set_match(any_set, addr) != valid)
    abort();

  if (n > 1) {
    ta_ip_set_t *set = NULL, *rev = NULL;
    const char **reversed = apr_pcalloc(p, n * sizeof(char *));
    for (size_t i = 1; i < n; i++)
      reversed[n - 1 - i] = lines[i];
    ta_status_t a = ta_ip_set_parse(p, lines + 1, n - 1, &set, NULL);
    ta_status_t b = ta_ip_set_parse(p, reversed, n - 1, &rev, NULL);
    if (a != b)
      abort();
    if (a == TA_OK) {
      int m = ta_ip_set_match(set, addr);
      if (m != ta_ip_set_match(rev, addr) || (m && !valid))
        abort();
    }
  }
  apr_pool_destroy(p);
  return 0;
}

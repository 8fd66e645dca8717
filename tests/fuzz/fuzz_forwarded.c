/* libFuzzer target for the X-Forwarded-For and Forwarded parsers and the
 * proxy walk. Byte 0 picks the parser. Invariants: an accepted chain has
 * 1..TA_FORWARDED_MAX_HOPS valid addresses, and the walk returns the peer
 * or one of them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_forwarded.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;
static const ta_ip_set_t *trusted;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
    abort();
  const char *pats[] = {"10.0.0.0/8", "192.168.*.*", "fd00::/8"};
  ta_ip_set_t *s = NULL;
  if (ta_ip_set_parse(root, pats, 3, &s, NULL) != TA_OK)
    abort();
  trusted = s;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 2 * TA_FORWARDED_MAX_INPUT)
    return 0;
  apr_pool_t *p;
  apr_pool_create(&p, root);
  const char *value = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
  apr_array_header_t *chain = NULL;
  ta_status_t st = data[0] & 1 ? ta_forwarded_parse(p, value, &chain) : ta_xff_parse(p, value, &chain);
  if (st == TA_OK) {
    if (chain == NULL || chain->nelts < 1 || chain->nelts > TA_FORWARDED_MAX_HOPS)
      abort();
    const char **hops = (const char **)chain->elts;
    for (int i = 0; i < chain->nelts; i++)
      if (!ta_ip_is_valid(hops[i]))
        abort();
    const char *peer = "10.9.9.9";
    const char *client = ta_proxy_walk(peer, chain, trusted);
    int found = client == peer;
    for (int i = 0; i < chain->nelts; i++)
      found |= client == hops[i];
    if (!found)
      abort();
  } else if (st != TA_E_PROXY_CHAIN) {
    abort();
  }
  apr_pool_destroy(p);
  return 0;
}

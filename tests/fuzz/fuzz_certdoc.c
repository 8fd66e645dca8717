/* libFuzzer target: the certificate document parser over arbitrary bytes;
 * whatever parses must serialize, and the serialization must parse to the
 * same document. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_certdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static apr_pool_t *root;
  apr_pool_t *p;
  if (root == NULL) {
    apr_initialize();
    apr_pool_create(&root, NULL);
  }
  apr_pool_create(&p, root);
  ta_certdoc_t *doc = NULL;
  const char *err = NULL;
  ta_status_t st = ta_certdoc_parse(p, (const char *)data, size, &doc, &err);
  if (st == TA_OK) {
    char *text = ta_certdoc_serialize(p, doc);
    ta_certdoc_t *again;
    if (text == NULL || ta_certdoc_parse(p, text, strlen(text), &again, NULL) != TA_OK
        || strcmp(again->id, doc->id) != 0 || again->n_keys != doc->n_keys
        || again->n_protocols != doc->n_protocols)
      __builtin_trap();
    for (size_t i = 0; i < doc->n_keys; i++)
      if (strcmp(again->keys[i].fingerprint, doc->keys[i].fingerprint) != 0
          || again->keys[i].not_before != doc->keys[i].not_before
          || again->keys[i].not_after != doc->keys[i].not_after)
        __builtin_trap();
  } else if (st == TA_E_CERTDOC_INVALID) {
    if (err == NULL)
      __builtin_trap();   /* every refusal says why */
  } else if (st != TA_E_NOMEM) {
    __builtin_trap();
  }
  apr_pool_destroy(p);
  return 0;
}

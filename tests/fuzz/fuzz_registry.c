/* libFuzzer target: the registry loader over arbitrary bytes, then the
 * writer's model over the same bytes. Invariants checked:
 *  - every loaded application is found by its id (and by its certificate);
 *  - a document that loads still loads after the model re-serialises it,
 *    with the same applications (the writer never corrupts a valid file). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_registry.h"
#include "ta_registry_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lookups(const ta_registry_t *r)
{
  for (size_t i = 0; i < ta_registry_count(r); i++) {
    const ta_app_t *a = ta_registry_app(r, i);
    if (ta_registry_find(r, a->id) != a)
      abort();
    if (a->client_cert_sha256 && ta_registry_find_by_cert(r, a->client_cert_sha256) != a)
      abort();
    (void)ta_app_valid_key_count(a, 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static apr_pool_t *root;
  if (root == NULL) {
    apr_initialize();
    apr_pool_create(&root, NULL);
  }
  apr_pool_t *p;
  apr_pool_create(&p, root);
  const char *xml = (const char *)data;
  ta_registry_t *reg = NULL;
  const char *err = NULL;
  ta_status_t st = ta_registry_parse(p, xml, size, "fuzz", &reg, &err);
  if (st == TA_OK) {
    check_lookups(reg);
    (void)ta_registry_warnings(reg);
  } else if (err == NULL) {
    abort(); /* every refusal explains itself */
  }

  ta_regdoc_t *doc = NULL;
  if (ta_regdoc_parse(p, xml, size, "fuzz", &doc, &err) == TA_OK) {
    ta_registry_t *again = NULL;
    ta_status_t st2 = ta_regdoc_validate(doc, p, &again, &err);
    if (st == TA_OK) {
      if (st2 != TA_OK || ta_registry_count(again) != ta_registry_count(reg))
        abort();
      check_lookups(again);
    }
    /* Exercise edits on whatever came in; validity is the loader's call. */
    if (ta_registry_count(reg) > 0) {
      const char *id = ta_registry_app(reg, 0)->id;
      (void)ta_regdoc_add_list_item(doc, id, TA_REGDOC_PATH, "/fuzz", &err);
      (void)ta_regdoc_set_enabled(doc, id, 0, &err);
      (void)ta_regdoc_set_timeout_ms(doc, id, 1000, &err);
      (void)ta_regdoc_validate(doc, p, &again, &err);
    }
  }
  apr_pool_destroy(p);
  return 0;
}

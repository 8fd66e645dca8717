/* libFuzzer target for the structured-field parser and serializer.
 * Byte 0 picks item / list / dictionary, the rest is the field value.
 * Whatever parses must serialize, the serialization must parse again, and
 * serializing that must give the same text (the canonical form is a fixed
 * point). ASan/UBSan catch memory and arithmetic faults on the way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_sf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
    abort();
  return 0;
}

static ta_status_t parse_as(int kind, const char *in, size_t len, char **canonical)
{
  ta_status_t st;
  *canonical = NULL;
  if (kind == 0) {
    ta_sf_item_t item;
    if ((st = ta_sf_parse_item(pool, in, len, &item)) == TA_OK)
      *canonical = ta_sf_serialize_item(pool, &item);
  } else if (kind == 1) {
    ta_sf_list_t list;
    if ((st = ta_sf_parse_list(pool, in, len, &list)) == TA_OK)
      *canonical = ta_sf_serialize_list(pool, &list);
  } else {
    ta_sf_dict_t dict;
    if ((st = ta_sf_parse_dict(pool, in, len, &dict)) == TA_OK)
      *canonical = ta_sf_serialize_dict(pool, &dict);
  }
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  int kind = data[0] % 3;
  char *first, *second;
  if (parse_as(kind, (const char *)data + 1, size - 1, &first) == TA_OK) {
    if (first == NULL) {
      fprintf(stderr, "parsed value did not serialize\n");
      abort();
    }
    /* canonical text can outgrow the input (", " between members) */
    size_t len = strlen(first);
    if (len <= TA_SF_MAX_INPUT) {
      if (parse_as(kind, first, len, &second) != TA_OK || second == NULL) {
        fprintf(stderr, "serialization did not parse again: %s\n", first);
        abort();
      }
      if (strcmp(first, second) != 0) {
        fprintf(stderr, "not a fixed point:\n  %s\n  %s\n", first, second);
        abort();
      }
    }
  }
  apr_pool_clear(pool);
  return 0;
}

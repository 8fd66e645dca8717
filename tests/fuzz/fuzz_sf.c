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

/* Parameters the parser marked canonical serialize to exactly their input
 * text (ta_httpsig takes that text instead of serializing). */
static void check_params_span(const ta_sf_params_t *params)
{
  if (params->canonical == NULL)
    return;
  const char *written = ta_sf_serialize_params(pool, params);
  if (written == NULL || strlen(written) != params->canonical_len
      || memcmp(written, params->canonical, params->canonical_len) != 0) {
    fprintf(stderr, "canonical parameter text %.*s serializes as %s\n", (int)params->canonical_len,
            params->canonical, written ? written : "(NULL)");
    abort();
  }
}

static void check_member_spans(const ta_sf_member_t *m)
{
  if (!m->is_inner_list) {
    check_params_span(&m->item.params);
    return;
  }
  for (size_t i = 0; i < m->n_inner; i++)
    check_params_span(&m->inner[i].params);
  check_params_span(&m->params);
}

static ta_status_t parse_as(int kind, const char *in, size_t len, char **canonical)
{
  ta_status_t st;
  *canonical = NULL;
  if (kind == 0) {
    ta_sf_item_t item;
    if ((st = ta_sf_parse_item(pool, in, len, &item)) == TA_OK) {
      check_params_span(&item.params);
      *canonical = ta_sf_serialize_item(pool, &item);
    }
  } else if (kind == 1) {
    ta_sf_list_t list;
    if ((st = ta_sf_parse_list(pool, in, len, &list)) == TA_OK) {
      for (size_t i = 0; i < list.n; i++)
        check_member_spans(&list.members[i]);
      *canonical = ta_sf_serialize_list(pool, &list);
    }
  } else {
    ta_sf_dict_t dict;
    if ((st = ta_sf_parse_dict(pool, in, len, &dict)) == TA_OK) {
      for (size_t i = 0; i < dict.n; i++)
        check_member_spans(&dict.members[i]);
      *canonical = ta_sf_serialize_dict(pool, &dict);
    }
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

/* libFuzzer target for path normalisation and prefix matching. Input: the
 * raw path (first line) and optional prefixes (further lines). Invariants
 * of an accepted path: it starts with '/', has no empty, "." or ".."
 * segment, no control character, backslash, ';' or encoded '/' left, is a
 * fixed point of normalisation, and a set holding it allows it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_path.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
    abort();
  return 0;
}

static void check_normalized(apr_pool_t *p, const char *out)
{
  size_t len = strlen(out);
  if (len == 0 || out[0] != '/')
    abort();
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c < 0x21 || c >= 0x7f || c == '\\' || c == ';')
      abort();
  }
  if (strstr(out, "//"))
    abort();
  /* escapes are well formed, upper case, and never an unreserved character,
   * '/', '\\' or a control character */
  for (size_t i = 0; i < len; i++) {
    if (out[i] != '%')
      continue;
    if (i + 2 >= len || !strchr("0123456789ABCDEF", out[i + 1]) || !strchr("0123456789ABCDEF", out[i + 2])
        || out[i + 1] == '\0' || out[i + 2] == '\0')
      abort();
    unsigned v = (unsigned)strtoul(apr_pstrndup(p, out + i + 1, 2), NULL, 16);
    if (v < 0x20 || v == 0x7f || v == '/' || v == '\\' || (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z')
        || (v >= '0' && v <= '9') || v == '-' || v == '.' || v == '_' || v == '~')
      abort();
    i += 2;
  }
  /* no "." or ".." segment */
  const char *seg = out + 1;
  while (*seg) {
    const char *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
      abort();
    if (!end)
      break;
    seg = end + 1;
  }
  const char *again = NULL;
  if (ta_path_normalize(p, out, &again) != TA_OK || strcmp(again, out) != 0)
    abort();
  ta_path_set_t *self = NULL;
  if (ta_path_set_parse(p, &out, 1, &self, NULL) != TA_OK || !ta_path_set_match(self, out))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > TA_PATH_MAX_INPUT + 16)
    return 0;
  apr_pool_t *p;
  apr_pool_create(&p, root);
  char *text = apr_pstrmemdup(p, (const char *)data, size);
  char *nl = strchr(text, '\n');
  const char *raw = text;
  const char **prefixes = NULL;
  size_t n = 0;
  if (nl) {
    *nl = '\0';
    prefixes = apr_pcalloc(p, (size + 1) * sizeof(char *));
    char *last = NULL;
    for (char *t = apr_strtok(nl + 1, "\n", &last); t; t = apr_strtok(NULL, "\n", &last))
      prefixes[n++] = t;
  }
  const char *out = NULL;
  if (ta_path_normalize(p, raw, &out) == TA_OK)
    check_normalized(p, out);
  if (n > 0) {
    ta_path_set_t *set = NULL;
    if (ta_path_set_parse(p, prefixes, n, &set, NULL) == TA_OK) {
      if (out)
        (void)ta_path_set_match(set, out);
      (void)ta_path_set_match_raw(set, raw);
      if (ta_path_set_count(set) != n)
        abort();
    }
  }
  apr_pool_destroy(p);
  return 0;
}

#include "ta_error.h"

#include <stddef.h>
#include <string.h>

typedef struct {
  ta_status_t code;
  const char *token;
  int http_status;
  const char *summary;
  const char *fix;
} ta_error_entry;

static const ta_error_entry ta_errors[] = {
#define TA_X_ENTRY(e, n, tok, st, sum, fix) {e, tok, st, sum, fix},
  TA_ERROR_TABLE(TA_X_ENTRY)
#undef TA_X_ENTRY
};

static const ta_error_entry *find_entry(ta_status_t code)
{
  for (size_t i = 0; i < sizeof(ta_errors) / sizeof(ta_errors[0]); i++)
    if (ta_errors[i].code == code)
      return &ta_errors[i];
  return NULL;
}

const char *ta_error_token(ta_status_t code)
{
  const ta_error_entry *e = find_entry(code);
  return e ? e->token : "unknown";
}

int ta_error_http_status(ta_status_t code)
{
  const ta_error_entry *e = find_entry(code);
  return e ? e->http_status : 500;
}

const char *ta_error_summary(ta_status_t code)
{
  const ta_error_entry *e = find_entry(code);
  return e ? e->summary : "unknown error";
}

const char *ta_error_fix(ta_status_t code)
{
  const ta_error_entry *e = find_entry(code);
  return e ? e->fix : "";
}

int ta_error_from_token(const char *token)
{
  if (token == NULL)
    return -1;
  for (size_t i = 0; i < sizeof(ta_errors) / sizeof(ta_errors[0]); i++)
    if (strcmp(ta_errors[i].token, token) == 0)
      return (int)ta_errors[i].code;
  return -1;
}

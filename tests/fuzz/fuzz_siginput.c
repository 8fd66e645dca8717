/* libFuzzer target for Signature-Input / Signature parsing and the
 * signature base. Input: line 1 is the Signature-Input value, line 2 the
 * Signature value, anything after is raw HTTP message text that is parsed
 * too (and, when it parses, signed over instead of the fixed request).
 * Invariants: a parsed signature has a well-formed base that contains its
 * @signature-params line; accessors never crash; verification with the
 * wrong key never succeeds. ASan/UBSan catch memory and arithmetic faults. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_msg_text.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *pool;
static ta_key_t *hmac_key;

static const char fixed_request[] =
  "POST /foo?param=Value&Pet=dog&a=%20b+c HTTP/1.1\r\n"
  "Host: example.com\r\n"
  "Date: Tue, 20 Apr 2021 02:07:55 GMT\r\n"
  "Content-Type: application/json\r\n"
  "Content-Digest: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\r\n"
  "Content-Length: 18\r\n"
  "Example-Dict:  a=1,    b=2;x=1;y=2,   c=(a   b   c)\r\n"
  "TrustedApp-User: alice\r\n"
  "Accept: application/json\r\n"
  "Accept: */*\r\n"
  "\r\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
    abort();
  static const unsigned char secret[32] = {1, 2, 3};
  if (ta_key_hmac(pool, secret, sizeof(secret), &hmac_key) != TA_OK)
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  apr_pool_t *p;
  if (apr_pool_create(&p, pool) != APR_SUCCESS)
    abort();
  const char *text = (const char *)data;
  const char *nl1 = memchr(text, '\n', size);
  size_t len1 = nl1 ? (size_t)(nl1 - text) : size;
  const char *rest = nl1 ? nl1 + 1 : text + size;
  size_t rest_len = size - (size_t)(rest - text);
  const char *nl2 = memchr(rest, '\n', rest_len);
  size_t len2 = nl2 ? (size_t)(nl2 - rest) : rest_len;
  const char *raw = nl2 ? nl2 + 1 : rest + rest_len;
  size_t raw_len = size - (size_t)(raw - text);

  char *input = apr_pstrmemdup(p, text, len1);
  char *signature = apr_pstrmemdup(p, rest, len2);

  ta_msg_t *msg = NULL;
  if (raw_len == 0
      || ta_msg_parse_text(p, raw, raw_len, "https", &msg, NULL, NULL) != TA_OK) {
    if (ta_msg_parse_text(p, fixed_request, sizeof(fixed_request) - 1, "https", &msg, NULL, NULL) != TA_OK)
      abort();
  }
  /* A response gets the fixed request as its related request (;req). */
  if (msg->is_response) {
    ta_msg_t *req = NULL;
    if (ta_msg_parse_text(p, fixed_request, sizeof(fixed_request) - 1, "https", &req, NULL, NULL) == TA_OK)
      msg->request = req;
  }
  if (strlen(input) == len1)
    ta_msg_add_field(msg, "Signature-Input", input);
  if (strlen(signature) == len2 && len2)
    ta_msg_add_field(msg, "Signature", signature);

  ta_httpsig_t *sig = NULL;
  const char *labels[] = {"ta", NULL};
  for (size_t i = 0; i < 2; i++) {
    sig = NULL;
    ta_status_t st = ta_httpsig_parse(p, msg, labels[i], &sig);
    if (st == TA_OK) {
      if (!sig || !sig->base || strlen(sig->base) != sig->base_len)
        abort();
      const char *params_line = apr_pstrcat(p, "\"@signature-params\": ", sig->signature_params, NULL);
      size_t pl = strlen(params_line);
      if (sig->base_len < pl || strcmp(sig->base + sig->base_len - pl, params_line) != 0)
        abort();
      /* nothing fuzzed can carry a valid HMAC under a secret it never saw */
      if (ta_httpsig_verify(sig, hmac_key) == TA_OK)
        abort();
    }
    if (sig) {
      (void)ta_httpsig_covers(sig, "@method");
      (void)ta_httpsig_covers(sig, input);
      (void)ta_httpsig_covers_field(sig, "trustedapp-user");
    }
  }

  /* The first line as one component identifier, signed over the message. */
  ta_component_t c;
  if (ta_component_parse(p, input, &c) == TA_OK) {
    const char **values;
    size_t n;
    if (ta_component_values(p, msg, &c, &values, &n) == TA_OK) {
      for (size_t i = 0; i < n; i++)
        if (strchr(values[i], '\n') || strchr(values[i], '\r'))
          abort();
    }
    const char *comps[] = {input};
    ta_httpsig_sign_params_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.components = comps;
    sp.n_components = 1;
    sp.created = 1;
    sp.expires = -1;
    sp.keyid = "fuzz";
    const char *si, *sv;
    if (ta_httpsig_sign(p, msg, &sp, hmac_key, 0, &si, &sv, NULL, NULL) == TA_OK && (!si || !sv))
      abort();
  }
  apr_pool_destroy(p);
  return 0;
}

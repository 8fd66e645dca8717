/* libFuzzer target for the Seraph header decoder: the input is a block of
 * "Name: value" lines (request headers) optionally followed by a line
 * "--" and a raw certificate plaintext / certificate document. Everything
 * runs against Atlassian's 1024-bit test key, so inputs built from the v2
 * vector reach the RSA unwrap, RC4 and the signature check. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ta_b64.h"
#include "ta_seraph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TV1_PUB "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCySptbugHAzWUJY3ALWhuSCPhVXnwbUBfsRExYQitBCVny4V1DcU2SAx22bH9dSM0X7NdMObF74r+Wd77QoPAtaySqFLqCeRCbFmhHgVSi+pGeCipTpueefSkz2AX8Aj+9x27tqjBsX1LtNWVLDsinEhBWN68R+iEOmf/6jGWObQIDAQAB"

static apr_pool_t *root;
static EVP_PKEY *pub;

static void init_once(void)
{
  if (root)
    return;
  apr_initialize();
  apr_pool_create(&root, NULL);
  unsigned char *der;
  size_t len;
  if (ta_b64_decode(root, TA_B64_STD, TV1_PUB, strlen(TV1_PUB), &der, &len) == TA_OK) {
    const unsigned char *cur = der;
    pub = d2i_PUBKEY(NULL, &cur, (long)len);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  apr_pool_t *p;
  init_once();
  if (size > 16384)
    return 0;
  apr_pool_create(&p, root);
  char *text = apr_pstrmemdup(p, (const char *)data, size);
  size_t text_len = strlen(text);  /* header part stops at an embedded NUL */
  char *tail = strstr(text, "\n--\n");
  if (tail) {
    *tail = '\0';
    tail += 4;
  }

  ta_msg_t *m = ta_msg_make(p);
  m->method = "GET";
  m->scheme = "http";
  m->authority = "jira.example.com:8080";
  m->path = "/rest/api/2/issue/ABC-1";
  m->query = "expand=names&x=%20y";
  char *save = NULL;
  for (char *line = apr_strtok(text, "\n", &save); line; line = apr_strtok(NULL, "\n", &save)) {
    char *colon = strchr(line, ':');
    if (!colon)
      continue;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ')
      value++;
    ta_msg_add_field(m, line, value);
  }

  ta_seraph_request_t req;
  const char *detail = NULL;
  (void)ta_seraph_present(m);
  (void)ta_seraph_parse(p, m, &req, &detail);

  ta_seraph_opts_t o;
  ta_seraph_opts_init(&o);
  o.check_time = 0;
  o.allow_insecure_versions = 1;
  ta_seraph_claim_t c;
  ta_status_t st = ta_seraph_verify_pkey(p, pub, 0, m, &o, 0, &c, &detail);
  (void)ta_seraph_error_header(p, st, &c, "10.0.0.1", m->path);
  o.base_url = "https://jira.example.com/ctx";
  (void)ta_seraph_verify_pkey(p, pub, apr_time_from_sec(10), m, &o, apr_time_now(), &c, &detail);

  if (tail) {
    size_t tail_len = text_len > (size_t)(tail - text) ? text_len - (size_t)(tail - text) : 0;
    ta_seraph_cert_t cert;
    ta_seraph_certdoc_t doc;
    (void)ta_seraph_cert_parse(p, (const unsigned char *)tail, tail_len, 1, &cert, &detail);
    (void)ta_seraph_cert_parse(p, (const unsigned char *)tail, tail_len, 0, &cert, &detail);
    (void)ta_seraph_certdoc_parse(p, tail, tail_len, &doc, &detail);
  }
  apr_pool_destroy(p);
  return 0;
}
